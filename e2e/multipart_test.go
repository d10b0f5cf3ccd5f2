package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestMultipartErrorsSDK checks the multipart and tagging error codes as
// aws-sdk-go-v2 receives them, over plain HTTP and TLS.
func TestMultipartErrorsSDK(t *testing.T) {
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			ts := startServer(t, scheme == "https")
			c := ts.rootClient()
			mustCreateBucket(t, c, "mperr")
			t.Run("Multipart", func(t *testing.T) { sdkMultipartErrors(t, c) })
			t.Run("Tagging", func(t *testing.T) { sdkTaggingLimits(t, c) })
		})
	}
}

// sdkUpload is one multipart upload in bucket "mperr" and the ETags of
// the parts uploaded to it.
type sdkUpload struct {
	c       *s3.Client
	ctx     context.Context
	bucket  string
	key, id string
	etags   map[int32]string
}

func newSDKUpload(t *testing.T, c *s3.Client, key string) *sdkUpload {
	t.Helper()
	ctx := context.Background()
	out, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mperr"), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	return &sdkUpload{c: c, key: key, id: aws.ToString(out.UploadId), etags: map[int32]string{}, ctx: ctx, bucket: "mperr"}
}

func (u *sdkUpload) part(n int32, body []byte) error {
	out, err := u.c.UploadPart(u.ctx, &s3.UploadPartInput{
		Bucket: aws.String(u.bucket), Key: aws.String(u.key), UploadId: aws.String(u.id),
		PartNumber: aws.Int32(n), Body: strings.NewReader(string(body)),
	})
	if err == nil {
		u.etags[n] = aws.ToString(out.ETag)
	}
	return err
}

// completeWith completes naming parts by number with their uploaded ETags
// (a made-up ETag for a part never uploaded).
func (u *sdkUpload) completeWith(mod func(*s3.CompleteMultipartUploadInput), parts ...int32) error {
	in := &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(u.bucket), Key: aws.String(u.key), UploadId: aws.String(u.id),
		MultipartUpload: &types.CompletedMultipartUpload{},
	}
	for _, n := range parts {
		etag, ok := u.etags[n]
		if !ok {
			etag = `"00000000000000000000000000000000"`
		}
		in.MultipartUpload.Parts = append(in.MultipartUpload.Parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: aws.String(etag)})
	}
	if mod != nil {
		mod(in)
	}
	_, err := u.c.CompleteMultipartUpload(u.ctx, in)
	return err
}

func sdkMultipartErrors(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	small, big := []byte("under five MiB"), randomData(5<<20)
	u := newSDKUpload(t, c, "errs")
	for n, b := range map[int32][]byte{1: small, 2: big, 3: small} {
		if err := u.part(n, b); err != nil {
			t.Fatalf("part %d: %v", n, err)
		}
	}
	wantCode(t, u.part(0, small), "InvalidArgument")
	wantCode(t, u.part(10001, small), "InvalidArgument")
	wantCode(t, u.completeWith(nil, 1, 2), "EntityTooSmall")
	wantCode(t, u.completeWith(nil, 2, 7), "InvalidPart")
	wantCode(t, u.completeWith(func(in *s3.CompleteMultipartUploadInput) {
		in.MultipartUpload.Parts[0].ETag = aws.String(u.etags[1])
	}, 2), "InvalidPart")
	wantCode(t, u.completeWith(nil, 3, 2), "InvalidPartOrder")

	gone := &sdkUpload{c: c, key: "errs", id: strings.Repeat("f", 32), etags: u.etags, ctx: ctx, bucket: "mperr"}
	wantCode(t, gone.part(1, small), "NoSuchUpload")
	wantCode(t, gone.completeWith(nil, 2), "NoSuchUpload")
	_, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mperr"), Key: aws.String("errs"), UploadId: aws.String(gone.id)})
	wantCode(t, err, "NoSuchUpload")
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mperr"), Key: aws.String("errs"), UploadId: aws.String(gone.id)})
	wantCode(t, err, "NoSuchUpload")

	// After the failures the upload is intact; ListParts shows it.
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mperr"), Key: aws.String("errs"), UploadId: aws.String(u.id)})
	if err != nil || len(lp.Parts) != 3 || aws.ToInt64(lp.Parts[1].Size) != 5<<20 {
		t.Fatalf("list parts: %+v %v", lp, err)
	}
	if err := u.completeWith(nil, 2, 3); err != nil {
		t.Fatal(err)
	}

	// A conditional complete on a key that now exists fails with 412 and
	// leaves both the object and the upload as they were.
	u2 := newSDKUpload(t, c, "errs")
	if err := u2.part(1, small); err != nil {
		t.Fatal(err)
	}
	err = u2.completeWith(func(in *s3.CompleteMultipartUploadInput) { in.IfNoneMatch = aws.String("*") }, 1)
	wantCode(t, err, "PreconditionFailed")
	if httpStatus(err) != http.StatusPreconditionFailed {
		t.Fatalf("status %d, want 412", httpStatus(err))
	}
	err = u2.completeWith(func(in *s3.CompleteMultipartUploadInput) {
		in.IfMatch = aws.String(`"0123456789abcdef0123456789abcdef"`)
	}, 1)
	wantCode(t, err, "PreconditionFailed")
	if got := headETag(t, c, "mperr", "errs"); !strings.HasSuffix(got, "-2") {
		t.Fatalf("object replaced by a failed conditional complete: ETag %s", got)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mperr")})
	if err != nil || len(ups.Uploads) != 1 || aws.ToString(ups.Uploads[0].UploadId) != u2.id {
		t.Fatalf("list uploads: %+v %v", ups, err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mperr"), Key: aws.String("errs"), UploadId: aws.String(u2.id)}); err != nil {
		t.Fatal(err)
	}

	// partNumber reads.
	got, out := mustGet(t, c, &s3.GetObjectInput{Bucket: aws.String("mperr"), Key: aws.String("errs"), PartNumber: aws.Int32(2)})
	if string(got) != string(small) || aws.ToInt32(out.PartsCount) != 2 || aws.ToString(out.ContentRange) != fmt.Sprintf("bytes %d-%d/%d", 5<<20, 5<<20+len(small)-1, 5<<20+len(small)) {
		t.Fatalf("part 2: %q count %d range %s", got, aws.ToInt32(out.PartsCount), aws.ToString(out.ContentRange))
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mperr"), Key: aws.String("errs"), PartNumber: aws.Int32(3)})
	wantCode(t, err, "InvalidPartNumber")
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mperr"), Key: aws.String("errs"), PartNumber: aws.Int32(1), Range: aws.String("bytes=0-9")})
	wantCode(t, err, "InvalidRequest")

	// UploadPartCopy with a range, then a complete of copied parts.
	u3 := newSDKUpload(t, c, "copied")
	cp, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket: aws.String("mperr"), Key: aws.String("copied"), UploadId: aws.String(u3.id), PartNumber: aws.Int32(1),
		CopySource: aws.String("mperr/errs"), CopySourceRange: aws.String(fmt.Sprintf("bytes=0-%d", 5<<20-1)),
	})
	if err != nil {
		t.Fatal(err)
	}
	u3.etags[1] = aws.ToString(cp.CopyPartResult.ETag)
	cp, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket: aws.String("mperr"), Key: aws.String("copied"), UploadId: aws.String(u3.id), PartNumber: aws.Int32(2),
		CopySource: aws.String("mperr/errs"), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", 5<<20, 5<<20+3)),
	})
	if err != nil {
		t.Fatal(err)
	}
	u3.etags[2] = aws.ToString(cp.CopyPartResult.ETag)
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket: aws.String("mperr"), Key: aws.String("copied"), UploadId: aws.String(u3.id), PartNumber: aws.Int32(3),
		CopySource: aws.String("mperr/errs"), CopySourceIfNoneMatch: aws.String(`"` + headETag(t, c, "mperr", "errs") + `"`),
	})
	wantCode(t, err, "PreconditionFailed")
	if err := u3.completeWith(nil, 1, 2); err != nil {
		t.Fatal(err)
	}
	copied, _ := mustGet(t, c, &s3.GetObjectInput{Bucket: aws.String("mperr"), Key: aws.String("copied")})
	if string(copied[:5<<20]) != string(big) || string(copied[5<<20:]) != "unde" {
		t.Fatalf("copied object: %d bytes", len(copied))
	}
}

func sdkTaggingLimits(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	mustPut(t, c, "mperr", "tagged", []byte("x"))
	tagSet := func(n int) []types.Tag {
		var out []types.Tag
		for i := range n {
			out = append(out, types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")})
		}
		return out
	}
	put := func(tags []types.Tag) error {
		_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("mperr"), Key: aws.String("tagged"), Tagging: &types.Tagging{TagSet: tags}})
		return err
	}
	if err := put(tagSet(10)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, put(tagSet(11)), "BadRequest")
	wantCode(t, put([]types.Tag{{Key: aws.String(strings.Repeat("k", 129)), Value: aws.String("v")}}), "InvalidTag")
	wantCode(t, put([]types.Tag{{Key: aws.String("k"), Value: aws.String(strings.Repeat("v", 257))}}), "InvalidTag")
	wantCode(t, put([]types.Tag{{Key: aws.String("aws:owner"), Value: aws.String("v")}}), "InvalidTag")
	wantCode(t, put([]types.Tag{{Key: aws.String("k"), Value: aws.String("1")}, {Key: aws.String("k"), Value: aws.String("2")}}), "InvalidTag")

	got, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("mperr"), Key: aws.String("tagged")})
	if err != nil || len(got.TagSet) != 10 {
		t.Fatalf("refused puts changed the tags: %+v %v", got, err)
	}
	if _, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("mperr"), Key: aws.String("tagged")}); err != nil {
		t.Fatal(err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mperr"), Key: aws.String("tagged")})
	if err != nil || head.TagCount != nil {
		t.Fatalf("tag count after delete: %v %v", head.TagCount, err)
	}

	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("mperr"), Key: aws.String("hdr"), Body: strings.NewReader("x"),
		Tagging: aws.String("a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11")})
	wantCode(t, err, "BadRequest")
	_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mperr"), Key: aws.String("hdr"), Tagging: aws.String("aws:x=1")})
	wantCode(t, err, "InvalidTag")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("mperr"), Key: aws.String("hdr"), CopySource: aws.String("mperr/tagged"),
		TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("k=" + strings.Repeat("v", 257))})
	wantCode(t, err, "InvalidTag")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("mperr"), Key: aws.String("hdr"), CopySource: aws.String("mperr/tagged"),
		TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("team=web")})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("mperr"), Key: aws.String("hdr")})
	if err != nil || len(tg.TagSet) != 1 || aws.ToString(tg.TagSet[0].Key) != "team" {
		t.Fatalf("copy with REPLACE tags: %+v %v", tg, err)
	}
}
