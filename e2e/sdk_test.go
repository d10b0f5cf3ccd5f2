package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestSDK runs the aws-sdk-go-v2 suite over plain HTTP (the SDK sends an
// x-amz-checksum-* header and a signed payload hash) and over TLS (it sends
// UNSIGNED-PAYLOAD bodies with trailing checksums).
func TestSDK(t *testing.T) {
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			ts := startServer(t, scheme == "https")
			c := ts.rootClient()
			t.Run("BucketLifecycle", func(t *testing.T) { sdkBucketLifecycle(t, c) })
			t.Run("Objects", func(t *testing.T) { sdkObjects(t, c) })
			t.Run("ReadsAndConditions", func(t *testing.T) { sdkReads(t, c) })
			t.Run("Copy", func(t *testing.T) { sdkCopy(t, c) })
			t.Run("List", func(t *testing.T) { sdkList(t, c) })
			t.Run("DeleteObjects", func(t *testing.T) { sdkDeleteObjects(t, c) })
			t.Run("Presigned", func(t *testing.T) { sdkPresigned(t, ts, c) })
			t.Run("Errors", func(t *testing.T) { sdkErrors(t, ts, c) })
			t.Run("Keys", func(t *testing.T) { sdkKeys(t, c) })
		})
	}
}

func mustCreateBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

func mustPut(t *testing.T, c *s3.Client, bucket, key string, body []byte) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return out
}

func mustGet(t *testing.T, c *s3.Client, in *s3.GetObjectInput) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		t.Fatalf("get %s: %v", aws.ToString(in.Key), err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, out
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func sdkBucketLifecycle(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket: aws.String("life"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraintEuWest1,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("life")})
	wantCode(t, err, "BucketAlreadyOwnedByYou")
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
	wantCode(t, err, "InvalidBucketName")

	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("life")}); err != nil {
		t.Fatal(err)
	}
	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(lb.Buckets, func(b types.Bucket) bool { return aws.ToString(b.Name) == "life" }) {
		t.Fatalf("ListBuckets lacks life: %+v", lb.Buckets)
	}
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("life")})
	if err != nil || loc.LocationConstraint != "" {
		t.Fatalf("location %q, %v", loc.LocationConstraint, err)
	}
	ver, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("life")})
	if err != nil || ver.Status != "" {
		t.Fatalf("versioning %q, %v", ver.Status, err)
	}

	acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("life")})
	if err != nil || len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl {
		t.Fatalf("private ACL: %+v, %v", acl, err)
	}
	if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("life"), ACL: types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	acl, err = c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("life")})
	if err != nil || len(acl.Grants) != 2 || aws.ToString(acl.Grants[1].Grantee.URI) != "http://acs.amazonaws.com/groups/global/AllUsers" {
		t.Fatalf("public-read ACL: %+v, %v", acl, err)
	}

	mustPut(t, c, "life", "k", []byte("x"))
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("life")})
	wantCode(t, err, "BucketNotEmpty")
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("life"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("life")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("life")})
	if httpStatus(err) != http.StatusNotFound {
		t.Fatalf("HeadBucket after delete: %v", err)
	}
}

func sdkObjects(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	mustCreateBucket(t, c, "objects")
	body := bytes.Repeat([]byte("mirrorstore "), 10000)
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:             aws.String("objects"),
		Key:                aws.String("dir/file.txt"),
		Body:               bytes.NewReader(body),
		ContentType:        aws.String("text/plain"),
		ContentEncoding:    aws.String("identity"),
		ContentDisposition: aws.String(`attachment; filename="f.txt"`),
		ContentLanguage:    aws.String("en"),
		CacheControl:       aws.String("max-age=60"),
		Expires:            aws.Time(expires),
		Metadata:           map[string]string{"color": "blue", "Owner-Name": "Ann"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(put.ETag), `"`+md5hex(body)+`"`; got != want {
		t.Fatalf("ETag %s, want %s", got, want)
	}
	got, out := mustGet(t, c, &s3.GetObjectInput{Bucket: aws.String("objects"), Key: aws.String("dir/file.txt")})
	if !bytes.Equal(got, body) {
		t.Fatalf("body differs: %d bytes, want %d", len(got), len(body))
	}
	if aws.ToString(out.ContentType) != "text/plain" || aws.ToString(out.ContentEncoding) != "identity" ||
		aws.ToString(out.ContentDisposition) != `attachment; filename="f.txt"` || aws.ToString(out.ContentLanguage) != "en" ||
		aws.ToString(out.CacheControl) != "max-age=60" || aws.ToString(out.ExpiresString) != expires.Format(http.TimeFormat) ||
		aws.ToString(out.AcceptRanges) != "bytes" {
		t.Fatalf("content headers: %+v", out)
	}
	if out.Metadata["color"] != "blue" || out.Metadata["owner-name"] != "Ann" {
		t.Fatalf("metadata %v", out.Metadata)
	}
	if lm := aws.ToTime(out.LastModified); lm.Nanosecond() != 0 || time.Since(lm) > time.Minute {
		t.Fatalf("Last-Modified %v", lm)
	}

	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("objects"), Key: aws.String("dir/file.txt")})
	if err != nil || aws.ToInt64(head.ContentLength) != int64(len(body)) || aws.ToString(head.ETag) != aws.ToString(put.ETag) {
		t.Fatalf("head: %+v, %v", head, err)
	}

	// No Content-Type stored: S3's default comes back.
	mustPut(t, c, "objects", "plain", []byte("p"))
	_, out = mustGet(t, c, &s3.GetObjectInput{Bucket: aws.String("objects"), Key: aws.String("plain")})
	if ct := aws.ToString(out.ContentType); ct != "binary/octet-stream" && ct != "application/octet-stream" {
		t.Fatalf("default Content-Type %q", ct)
	}

	// Metadata past 2 KiB.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("objects"), Key: aws.String("big-meta"), Body: strings.NewReader("x"),
		Metadata: map[string]string{"m": strings.Repeat("v", 2100)}})
	wantCode(t, err, "MetadataTooLarge")

	// Content-MD5 that does not match the body.
	wrong := md5.Sum([]byte("other"))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("objects"), Key: aws.String("digest"), Body: strings.NewReader("body"),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(wrong[:]))})
	wantCode(t, err, "BadDigest")
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("objects"), Key: aws.String("digest")})
	if httpStatus(err) != http.StatusNotFound {
		t.Fatalf("an object was stored despite BadDigest: %v", err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("objects"), Key: aws.String("digest"), Body: strings.NewReader("body"),
		ContentMD5: aws.String("not-base64!")})
	wantCode(t, err, "InvalidDigest")

	// Conditional writes.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("objects"), Key: aws.String("plain"), Body: strings.NewReader("q"), IfNoneMatch: aws.String("*")})
	wantCode(t, err, "PreconditionFailed")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("objects"), Key: aws.String("fresh"), Body: strings.NewReader("q"), IfNoneMatch: aws.String("*")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("objects"), Key: aws.String("fresh"), Body: strings.NewReader("r"), IfMatch: aws.String(`"` + md5hex([]byte("zz")) + `"`)})
	wantCode(t, err, "PreconditionFailed")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("objects"), Key: aws.String("fresh"), Body: strings.NewReader("r"), IfMatch: aws.String(`"` + md5hex([]byte("q")) + `"`)}); err != nil {
		t.Fatal(err)
	}

	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("objects"), Key: aws.String("dir/file.txt")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("objects"), Key: aws.String("dir/file.txt")})
	wantCode(t, err, "NoSuchKey")
	// Deleting what is not there succeeds, as in S3.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("objects"), Key: aws.String("dir/file.txt")}); err != nil {
		t.Fatal(err)
	}
}

func sdkReads(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	mustCreateBucket(t, c, "reads")
	body := []byte("0123456789abcdefghij")
	put := mustPut(t, c, "reads", "r", body)
	etag := aws.ToString(put.ETag)

	for _, tt := range []struct{ rng, want, contentRange string }{
		{"bytes=2-5", "2345", "bytes 2-5/20"},
		{"bytes=15-", "fghij", "bytes 15-19/20"},
		{"bytes=-3", "hij", "bytes 17-19/20"},
		{"bytes=10-100", "abcdefghij", "bytes 10-19/20"},
	} {
		got, out := mustGet(t, c, &s3.GetObjectInput{Bucket: aws.String("reads"), Key: aws.String("r"), Range: aws.String(tt.rng)})
		if string(got) != tt.want || aws.ToString(out.ContentRange) != tt.contentRange {
			t.Fatalf("%s: %q %q", tt.rng, got, aws.ToString(out.ContentRange))
		}
	}
	// Several ranges: the whole object, as S3 serves it.
	got, _ := mustGet(t, c, &s3.GetObjectInput{Bucket: aws.String("reads"), Key: aws.String("r"), Range: aws.String("bytes=0-1,5-6")})
	if !bytes.Equal(got, body) {
		t.Fatalf("multi-range body %q", got)
	}
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("reads"), Key: aws.String("r"), Range: aws.String("bytes=50-60")})
	wantCode(t, err, "InvalidRange")

	// partNumber 1 of a single-part object is the whole object.
	got, _ = mustGet(t, c, &s3.GetObjectInput{Bucket: aws.String("reads"), Key: aws.String("r"), PartNumber: aws.Int32(1)})
	if !bytes.Equal(got, body) {
		t.Fatalf("partNumber=1 body %q", got)
	}

	past := time.Now().Add(-time.Hour)
	future := time.Now().Add(time.Hour)
	for _, tt := range []struct {
		name   string
		in     s3.GetObjectInput
		status int
	}{
		{"if-match ok", s3.GetObjectInput{IfMatch: aws.String(etag)}, 200},
		{"if-match other", s3.GetObjectInput{IfMatch: aws.String(`"nope"`)}, 412},
		{"if-none-match same", s3.GetObjectInput{IfNoneMatch: aws.String(etag)}, 304},
		{"if-none-match other", s3.GetObjectInput{IfNoneMatch: aws.String(`"nope"`)}, 200},
		{"if-modified-since past", s3.GetObjectInput{IfModifiedSince: aws.Time(past)}, 200},
		{"if-modified-since future", s3.GetObjectInput{IfModifiedSince: aws.Time(future)}, 304},
		{"if-unmodified-since past", s3.GetObjectInput{IfUnmodifiedSince: aws.Time(past)}, 412},
		{"if-unmodified-since future", s3.GetObjectInput{IfUnmodifiedSince: aws.Time(future)}, 200},
		// S3's precedence: a true If-Match overrides a false If-Unmodified-Since,
		// a false If-None-Match answers 304 whatever If-Modified-Since says.
		{"if-match wins", s3.GetObjectInput{IfMatch: aws.String(etag), IfUnmodifiedSince: aws.Time(past)}, 200},
		{"if-none-match wins", s3.GetObjectInput{IfNoneMatch: aws.String(etag), IfModifiedSince: aws.Time(past)}, 304},
	} {
		in := tt.in
		in.Bucket, in.Key = aws.String("reads"), aws.String("r")
		out, err := c.GetObject(ctx, &in)
		status := 200
		if err != nil {
			status = httpStatus(err)
		} else {
			out.Body.Close()
		}
		if status != tt.status {
			t.Errorf("%s: status %d (%v), want %d", tt.name, status, err, tt.status)
		}
		if tt.status == 412 {
			wantCode(t, err, "PreconditionFailed")
		}
	}

	// response-* overrides on a signed GET.
	_, out := mustGet(t, c, &s3.GetObjectInput{Bucket: aws.String("reads"), Key: aws.String("r"),
		ResponseContentType: aws.String("text/csv"), ResponseContentDisposition: aws.String("inline"), ResponseCacheControl: aws.String("no-cache")})
	if aws.ToString(out.ContentType) != "text/csv" || aws.ToString(out.ContentDisposition) != "inline" || aws.ToString(out.CacheControl) != "no-cache" {
		t.Fatalf("overrides: %q %q %q", aws.ToString(out.ContentType), aws.ToString(out.ContentDisposition), aws.ToString(out.CacheControl))
	}
}

func sdkCopy(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	mustCreateBucket(t, c, "copy-src")
	mustCreateBucket(t, c, "copy-dst")
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("copy-src"), Key: aws.String("a b+c/ü.txt"), Body: strings.NewReader("copy me"),
		ContentType: aws.String("text/plain"), Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	src := "copy-src/a%20b%2Bc/%C3%BC.txt"
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("copy-dst"), Key: aws.String("same"), CopySource: aws.String(src)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(cp.CopyObjectResult.ETag) != `"`+md5hex([]byte("copy me"))+`"` {
		t.Fatalf("copy ETag %s", aws.ToString(cp.CopyObjectResult.ETag))
	}
	got, out := mustGet(t, c, &s3.GetObjectInput{Bucket: aws.String("copy-dst"), Key: aws.String("same")})
	if string(got) != "copy me" || out.Metadata["k"] != "v" || aws.ToString(out.ContentType) != "text/plain" {
		t.Fatalf("COPY: %q %v %q", got, out.Metadata, aws.ToString(out.ContentType))
	}

	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("copy-dst"), Key: aws.String("replaced"), CopySource: aws.String(src),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/html"), Metadata: map[string]string{"n": "w"}})
	if err != nil {
		t.Fatal(err)
	}
	_, out = mustGet(t, c, &s3.GetObjectInput{Bucket: aws.String("copy-dst"), Key: aws.String("replaced")})
	if out.Metadata["n"] != "w" || out.Metadata["k"] != "" || aws.ToString(out.ContentType) != "text/html" {
		t.Fatalf("REPLACE: %v %q", out.Metadata, aws.ToString(out.ContentType))
	}

	// Onto itself: only with REPLACE.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("copy-dst"), Key: aws.String("same"), CopySource: aws.String("copy-dst/same")})
	wantCode(t, err, "InvalidRequest")
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("copy-dst"), Key: aws.String("same"), CopySource: aws.String("copy-dst/same"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"x": "y"}}); err != nil {
		t.Fatal(err)
	}

	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("copy-dst"), Key: aws.String("c"), CopySource: aws.String(src), CopySourceIfMatch: aws.String(`"nope"`)})
	wantCode(t, err, "PreconditionFailed")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("copy-dst"), Key: aws.String("c"), CopySource: aws.String(src), CopySourceIfModifiedSince: aws.Time(time.Now().Add(time.Hour))})
	wantCode(t, err, "PreconditionFailed")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("copy-dst"), Key: aws.String("same"), CopySource: aws.String(src), IfNoneMatch: aws.String("*")})
	wantCode(t, err, "PreconditionFailed")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("copy-dst"), Key: aws.String("c"), CopySource: aws.String("copy-src/missing")})
	wantCode(t, err, "NoSuchKey")
}

func sdkList(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	mustCreateBucket(t, c, "list")
	keys := []string{"a/1", "a/2", "a/3", "b/1", "b/2/x", "c", "d e", "z"}
	for _, k := range keys {
		mustPut(t, c, "list", k, []byte(k))
	}

	// v2, two keys a page.
	var got []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("list"), MaxKeys: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if aws.ToInt32(page.KeyCount) != int32(len(page.Contents)) {
			t.Fatalf("KeyCount %d for %d keys", aws.ToInt32(page.KeyCount), len(page.Contents))
		}
		for _, o := range page.Contents {
			got = append(got, aws.ToString(o.Key))
		}
	}
	if !slices.Equal(got, keys) || pages != 4 {
		t.Fatalf("v2 pages %d keys %v", pages, got)
	}

	// v2 with delimiter and prefix; start-after; fetch-owner.
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	var prefixes, objs []string
	for _, cp := range out.CommonPrefixes {
		prefixes = append(prefixes, aws.ToString(cp.Prefix))
	}
	for _, o := range out.Contents {
		objs = append(objs, aws.ToString(o.Key))
		if o.Owner != nil {
			t.Fatalf("owner without fetch-owner")
		}
	}
	if !slices.Equal(prefixes, []string{"a/", "b/"}) || !slices.Equal(objs, []string{"c", "d e", "z"}) || aws.ToInt32(out.KeyCount) != 5 {
		t.Fatalf("delimiter: %v %v %d", prefixes, objs, aws.ToInt32(out.KeyCount))
	}
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), Prefix: aws.String("b/"), Delimiter: aws.String("/"), StartAfter: aws.String("a"), FetchOwner: aws.Bool(true)})
	if err != nil || len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "b/1" || out.Contents[0].Owner == nil ||
		len(out.CommonPrefixes) != 1 || aws.ToString(out.CommonPrefixes[0].Prefix) != "b/2/" {
		t.Fatalf("prefix b/: %+v %v", out, err)
	}
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), StartAfter: aws.String("c")})
	if err != nil || len(out.Contents) != 2 || aws.ToString(out.Contents[0].Key) != "d e" {
		t.Fatalf("start-after: %+v %v", out, err)
	}
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), ContinuationToken: aws.String("!!not a token")})
	wantCode(t, err, "InvalidArgument")

	// encoding-type=url: the SDK hands back the encoded form.
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), Prefix: aws.String("d"), EncodingType: types.EncodingTypeUrl})
	if err != nil || len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "d+e" {
		t.Fatalf("encoding-type=url: %+v %v", out, err)
	}

	// v1 with marker, and NextMarker with a delimiter.
	v1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("list"), Marker: aws.String("b/2/x"), MaxKeys: aws.Int32(2)})
	if err != nil || len(v1.Contents) != 2 || aws.ToString(v1.Contents[0].Key) != "c" || !aws.ToBool(v1.IsTruncated) || v1.Contents[0].Owner == nil {
		t.Fatalf("v1 marker: %+v %v", v1, err)
	}
	v1, err = c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("list"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)})
	if err != nil || aws.ToString(v1.NextMarker) != "a/" || len(v1.CommonPrefixes) != 1 {
		t.Fatalf("v1 NextMarker: %+v %v", v1, err)
	}
	var all []string
	marker := ""
	for {
		v1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("list"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2), Marker: aws.String(marker)})
		if err != nil {
			t.Fatal(err)
		}
		for _, cp := range v1.CommonPrefixes {
			all = append(all, aws.ToString(cp.Prefix))
		}
		for _, o := range v1.Contents {
			all = append(all, aws.ToString(o.Key))
		}
		if !aws.ToBool(v1.IsTruncated) {
			break
		}
		marker = aws.ToString(v1.NextMarker)
	}
	slices.Sort(all)
	if !slices.Equal(all, []string{"a/", "b/", "c", "d e", "z"}) {
		t.Fatalf("v1 pages: %v", all)
	}
}

func sdkDeleteObjects(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	mustCreateBucket(t, c, "multidelete")
	var ids []types.ObjectIdentifier
	for i := range 5 {
		k := fmt.Sprintf("k%d", i)
		mustPut(t, c, "multidelete", k, []byte(k))
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(k)})
	}
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("multidelete"), Delete: &types.Delete{Objects: ids[:3]}})
	if err != nil || len(out.Deleted) != 3 || len(out.Errors) != 0 {
		t.Fatalf("delete: %+v %v", out, err)
	}
	out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("multidelete"), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
	if err != nil || len(out.Deleted) != 0 || len(out.Errors) != 0 {
		t.Fatalf("quiet delete: %+v %v", out, err)
	}
	left, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("multidelete")})
	if err != nil || len(left.Contents) != 0 {
		t.Fatalf("left: %+v %v", left, err)
	}
	many := make([]types.ObjectIdentifier, 1001)
	for i := range many {
		many[i] = types.ObjectIdentifier{Key: aws.String(fmt.Sprint(i))}
	}
	_, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("multidelete"), Delete: &types.Delete{Objects: many}})
	wantCode(t, err, "MalformedXML")
}

func sdkPresigned(t *testing.T, ts *testServer, c *s3.Client) {
	ctx := context.Background()
	mustCreateBucket(t, c, "presigned")
	ps := s3.NewPresignClient(c)
	put, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("presigned"), Key: aws.String("up load.txt")}, s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(put.Method, put.URL, strings.NewReader("presigned body"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range put.SignedHeader {
		req.Header[k] = v
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned PUT: %s", resp.Status)
	}
	get, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("presigned"), Key: aws.String("up load.txt")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = ts.client.Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "presigned body" {
		t.Fatalf("presigned GET: %s %q", resp.Status, b)
	}
	// Tampering with the URL breaks the signature.
	resp, err = ts.client.Get(strings.Replace(get.URL, "up%20load.txt", "other.txt", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tampered presigned GET: %s", resp.Status)
	}
}

func sdkErrors(t *testing.T, ts *testServer, c *s3.Client) {
	ctx := context.Background()
	mustCreateBucket(t, c, "errors")
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("errors"), Key: aws.String("missing")})
	wantCode(t, err, "NoSuchKey")
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k")})
	wantCode(t, err, "NoSuchBucket")
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("no-such-bucket")})
	wantCode(t, err, "NoSuchBucket")

	bad := ts.sdkClient(credentials.NewStaticCredentialsProvider(testAccessKey, "wrong-secret", ""))
	_, err = bad.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantCode(t, err, "SignatureDoesNotMatch")
	_, err = bad.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("errors"), Key: aws.String("k"), Body: strings.NewReader("x")})
	wantCode(t, err, "SignatureDoesNotMatch")
	unknown := ts.sdkClient(credentials.NewStaticCredentialsProvider("NOSUCHKEY", testSecretKey, ""))
	_, err = unknown.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantCode(t, err, "InvalidAccessKeyId")

	anon := ts.sdkClient(aws.AnonymousCredentials{})
	mustPut(t, c, "errors", "private", []byte("secret"))
	_, err = anon.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("errors"), Key: aws.String("private")})
	wantCode(t, err, "AccessDenied")
	_, err = anon.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("errors"), Key: aws.String("anon"), Body: strings.NewReader("x")})
	wantCode(t, err, "AccessDenied")
	_, err = anon.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("errors")})
	wantCode(t, err, "AccessDenied")
}

func sdkKeys(t *testing.T, c *s3.Client) {
	ctx := context.Background()
	mustCreateBucket(t, c, "keys")
	keys := []string{"a//b", "../x", "x/", "./y", "a/../b", "%", "%25", "with space", "plus+sign", "日本語/ключ", "q?uery#frag", "tilde~", "a&b=c", "/leading"}
	for i, k := range keys {
		mustPut(t, c, "keys", k, []byte(fmt.Sprint(i)))
	}
	for i, k := range keys {
		got, _ := mustGet(t, c, &s3.GetObjectInput{Bucket: aws.String("keys"), Key: aws.String(k)})
		if string(got) != fmt.Sprint(i) {
			t.Errorf("key %q: body %q, want %d", k, got, i)
		}
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("keys")})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, o := range out.Contents {
		listed = append(listed, aws.ToString(o.Key))
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Fatalf("listed %q\nwant %q", listed, want)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("keys"), Key: aws.String(strings.Repeat("k", 1025)), Body: strings.NewReader("x")})
	wantCode(t, err, "KeyTooLongError")
}
