//lint:file-ignore SA1019 feature/s3/manager is deprecated in favour of feature/s3/transfermanager, but it is the transfer manager deployed Go programs use today, so it is the one tested here.

package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// headerLog records the request headers a client sends.
type headerLog struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []http.Header
}

func (l *headerLog) RoundTrip(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.seen = append(l.seen, r.Header.Clone())
	l.mu.Unlock()
	return l.next.RoundTrip(r)
}

// count returns how many requests carried header name with value.
func (l *headerLog) count(name, value string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, h := range l.seen {
		if h.Get(name) == value {
			n++
		}
	}
	return n
}

// TestSDKTransferManagerTLS uploads and downloads through aws-sdk-go-v2's
// transfer manager with its default checksum behaviour over TLS, where the
// SDK sends each part as an unsigned aws-chunked body with a trailing
// checksum.
func TestSDKTransferManagerTLS(t *testing.T) {
	ts := startServer(t, true)
	log := &headerLog{next: ts.client.Transport}
	c := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ts.URL()),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
		HTTPClient:   &http.Client{Transport: log},
	})
	ctx := context.Background()
	mustCreateBucket(t, c, "manager")
	body := randomData(mpSmallSize)
	up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 5 << 20 })
	// A plain io.Reader (not seekable), as a stream from a pipe would be.
	res, err := up.Upload(ctx, &s3.PutObjectInput{
		Bucket:      aws.String("manager"),
		Key:         aws.String("tls/obj.bin"),
		Body:        io.MultiReader(bytes.NewReader(body)),
		ContentType: aws.String("application/x-manager"),
		Metadata:    map[string]string{"via": "manager"},
		Tagging:     aws.String("suite=e2e"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := multipartETagOf(body, 5<<20)
	if strings.Trim(aws.ToString(res.ETag), `"`) != want || res.UploadID == "" {
		t.Fatalf("upload: ETag %s upload %q, want ETag %s", aws.ToString(res.ETag), res.UploadID, want)
	}
	if n := log.count("X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"); n < 3 {
		t.Fatalf("%d requests used trailing checksums, want each of the 3 parts", n)
	}

	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("manager"), Key: aws.String("tls/obj.bin")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(head.ContentType) != "application/x-manager" || head.Metadata["via"] != "manager" || aws.ToInt32(head.TagCount) != 1 || aws.ToInt64(head.ContentLength) != mpSmallSize {
		t.Fatalf("head: %+v", head)
	}
	part, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("manager"), Key: aws.String("tls/obj.bin"), PartNumber: aws.Int32(3)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(part.PartsCount) != 3 || aws.ToInt64(part.ContentLength) != mpSmallSize-10<<20 {
		t.Fatalf("head part 3: count %d length %d", aws.ToInt32(part.PartsCount), aws.ToInt64(part.ContentLength))
	}

	down := manager.NewDownloader(c, func(d *manager.Downloader) { d.PartSize = 5 << 20 })
	buf := manager.NewWriteAtBuffer(make([]byte, 0, len(body)))
	n, err := down.Download(ctx, buf, &s3.GetObjectInput{Bucket: aws.String("manager"), Key: aws.String("tls/obj.bin")})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(body)) || !bytes.Equal(buf.Bytes(), body) {
		t.Fatalf("download: %d bytes, equal %v", n, bytes.Equal(buf.Bytes(), body))
	}
}
