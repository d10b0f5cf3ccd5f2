// Package s3backend stores mirrorstore's buckets, objects and configuration
// in one bucket of an existing S3-compatible cluster (SPEC §10), so any
// number of stateless nodes can serve the same data.
//
// Layout inside the backend bucket:
//
//	b/<bucket>/<key>                          one object, its content headers, user
//	                                          metadata and tags stored natively; our own
//	                                          fields as x-amz-meta-mirrorstore-*
//	.mirrorstore/buckets/<bucket>             the bucket record (owner, creation time)
//	.mirrorstore/config/<bucket>/<name>       a configuration blob (website, policy, acl)
//	.mirrorstore/uploads/<bucket>/<hex key>/<upload id>
//	                                          a multipart upload in progress and its attrs
//
// Bucket names cannot start with '.', so ".mirrorstore/" never collides with
// "b/". Upload records name the key in hex, which sorts like the key itself
// and has no delimiter in it, so uploads list in key order without relying
// on the backend's ListMultipartUploads (MinIO lists uploads of one exact
// key only).
package s3backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"mirrorstore/internal/store"
)

// Config names the backend cluster and bucket.
type Config struct {
	// Endpoint is the cluster's URL ("http://minio:9000"). Requests are
	// path-style (endpoint/bucket/key), which every S3-compatible server
	// accepts.
	Endpoint string
	// Bucket is the existing backend bucket that holds everything.
	Bucket string
	// AccessKey and SecretKey sign requests; when both are empty they come
	// from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
	// AWS_SESSION_TOKEN).
	AccessKey, SecretKey string
	// Region signs requests; empty means us-east-1.
	Region string
	// Timeout bounds each wait on the cluster: connecting, every write of
	// a request, the answer's headers once a request is sent, and every
	// read of an object's body.
	// A request that times out is not retried (a stalled cluster stays
	// stalled, and retrying would multiply the client's wait), so a client
	// gets 503 ServiceUnavailable within about Timeout. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// SpoolDir holds the bodies spooled before a conditional write (see
	// PutObject) while they are sent. Open empties it, so a node killed
	// mid-write leaves nothing behind once it starts again; it must be
	// the node's own. Empty means the system's temporary folder, which
	// is not emptied.
	SpoolDir string
	// HTTPClient, when set, replaces the default client (connect and
	// header timeouts); body reads still follow Timeout.
	HTTPClient *http.Client
}

// DefaultTimeout is Config.Timeout when unset: well above what a healthy
// cluster takes to start answering (MinIO and S3 send the headers of a
// long CompleteMultipartUpload early), well below the minute after which
// load balancers and clients give up on their own.
const DefaultTimeout = 30 * time.Second

// Retries when the cluster refuses or drops a connection or answers 5xx:
// three attempts with at most a second between them, so a cluster that is
// down is reported within a few seconds, and a brief blip (a restart) is
// ridden out.
const (
	maxAttempts = 3
	maxBackoff  = time.Second
)

const (
	objectPrefix = "b/"
	metaPrefix   = ".mirrorstore/"
	bucketsDir   = metaPrefix + "buckets/"
	configDir    = metaPrefix + "config/"
	uploadsDir   = metaPrefix + "uploads/"
)

// Backend is a store.Backend over one bucket of an S3-compatible cluster.
// It holds no state of its own beyond the client: every call goes to the
// cluster, so what one node writes another reads at once.
type Backend struct {
	client *s3.Client
	// lean sends GetObject and HeadObject without the SDK (see lean.go);
	// nil sends them through client.
	lean   *leanClient
	http   *http.Client
	bucket string
	// timeout is Config.Timeout, applied to body reads.
	timeout time.Duration
	// spoolDir is Config.SpoolDir ("" for the temporary folder).
	spoolDir string
	// singlePutMax and streamPartMin are maxSinglePut and minStreamPart,
	// lowered by tests to reach the multipart path with small bodies.
	singlePutMax, streamPartMin int64
	// buckets maps a bucket name to when its record was last seen plus
	// bucketTTL (see checkBucket); bucketTTL is lowered by tests.
	buckets   sync.Map
	bucketTTL time.Duration
}

// bucketTTL is how long a bucket record seen on the cluster is trusted
// without a HEAD: the bound s3api's per-bucket access cache has too.
const bucketTTL = 5 * time.Second

var _ store.Backend = (*Backend)(nil)

// Open returns a backend for cfg. It does not contact the cluster; Ready
// does.
func Open(cfg Config) (*Backend, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("s3 backend: set --backend-endpoint and --backend-bucket")
	}
	if cfg.AccessKey == "" && cfg.SecretKey == "" {
		cfg.AccessKey, cfg.SecretKey = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("s3 backend: set --backend-access-key and --backend-secret-key (or MIRRORSTORE_BACKEND_ACCESS_KEY/SECRET_KEY, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.SpoolDir != "" {
		if err := emptyDir(cfg.SpoolDir); err != nil {
			return nil, fmt.Errorf("s3 backend spool folder: %w", err)
		}
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		dialer := &net.Dialer{Timeout: min(cfg.Timeout, 5*time.Second), KeepAlive: 30 * time.Second}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &progressConn{Conn: c, timeout: cfg.Timeout}, nil
		}
		// A cluster that accepts a request but never answers is as
		// unavailable as one that refuses it. Bodies have no overall
		// deadline (objects may be gigabytes), only the idle one of
		// idleBody.
		tr.ResponseHeaderTimeout = cfg.Timeout
		tr.MaxIdleConnsPerHost = 64
		// Bytes pass through as stored (Content-Encoding is the object's).
		tr.DisableCompression = true
		hc = &http.Client{Transport: tr}
	}
	lean, err := newLeanClient(cfg.Endpoint, cfg.AccessKey, cfg.SecretKey, os.Getenv("AWS_SESSION_TOKEN"), cfg.Region)
	if err != nil {
		return nil, err
	}
	client := s3.New(s3.Options{
		Region:       cfg.Region,
		BaseEndpoint: aws.String(cfg.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, os.Getenv("AWS_SESSION_TOKEN")),
		HTTPClient:   hc,
		Retryer:      newRetryer(),
		// We verify MD5s ourselves; the SDK's default CRC trailers need
		// seekable bodies or TLS.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	return &Backend{client: client, lean: lean, http: hc, bucket: cfg.Bucket, timeout: cfg.Timeout, spoolDir: cfg.SpoolDir, singlePutMax: maxSinglePut, streamPartMin: minStreamPart, bucketTTL: bucketTTL}, nil
}

// newRetryer is the SDK's standard retryer with our attempts and backoff,
// no retry of timeouts, and no client-side retry quota: during an outage
// the quota would drain, and after it every first failure would go
// unretried until enough requests had succeeded to refill it.
func newRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = maxBackoff
		o.RateLimiter = ratelimit.None
		o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(noRetryOnTimeout)}, o.Retryables...)
	})
}

// noRetryOnTimeout says a timed-out attempt is not retried; anything else
// is left to the standard rules.
func noRetryOnTimeout(err error) aws.Ternary {
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
}

// emptyDir creates dir, or removes what it holds.
func emptyDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// progressConn is a connection to the cluster on which every write must
// make progress within timeout: a cluster that stops reading a request's
// body (its receive window stays shut) fails the request instead of
// holding it forever, since the transport's header timeout only starts
// once the body is sent. Reads are left to the header timeout and to
// idleBody, so an idle pooled connection never times out.
type progressConn struct {
	net.Conn
	timeout time.Duration
}

// ReadFrom sends a request body in copyBufSize writes: the transport
// hands the body to the connection's ReadFrom, and without one io.Copy
// would write it 32 KiB at a time.
func (c *progressConn) ReadFrom(r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{r}, *bp)
}

func (c *progressConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// Ready does a HEAD on the backend bucket.
func (b *Backend) Ready(ctx context.Context) error {
	_, err := b.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b.bucket)})
	if err != nil {
		return fmt.Errorf("backend bucket %s: %w", b.bucket, unavailable(ctx, err))
	}
	return nil
}

// Close releases idle connections.
func (b *Backend) Close() error {
	b.http.CloseIdleConnections()
	return nil
}

func objectKey(bucket, key string) string  { return objectPrefix + bucket + "/" + key }
func bucketRecordKey(bucket string) string { return bucketsDir + bucket }
func configKey(bucket, name string) string { return configDir + bucket + "/" + name }

// apiCode is the backend's S3 error code ("" when the error is not one).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// codeSentinels maps the backend's error codes to the store's sentinels.
var codeSentinels = map[string]error{
	"NoSuchKey":                  store.ErrNoSuchKey,
	"NotFound":                   store.ErrNoSuchKey, // a HEAD's 404 has no body
	"NoSuchUpload":               store.ErrNoSuchUpload,
	"PreconditionFailed":         store.ErrPreconditionFailed,
	"ConditionalRequestConflict": store.ErrPreconditionFailed,
	"InvalidPart":                store.ErrInvalidPart,
	"InvalidPartOrder":           store.ErrInvalidPartOrder,
	"EntityTooSmall":             store.ErrEntityTooSmall,
	"InvalidRange":               store.ErrInvalidRange,
	"InvalidPartNumber":          store.ErrInvalidPartNumber,
	"BadDigest":                  store.ErrBadDigest,
	"IncompleteBody":             store.ErrIncompleteBody,
}

// mapErr turns a backend error into a store error: a known S3 code becomes
// its sentinel; anything that says the cluster cannot serve us (network,
// timeout, 5xx, the backend bucket gone, our credential refused) wraps
// store.ErrUnavailable, never a sentinel that would claim an absent key.
func mapErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if s, ok := codeSentinels[apiCode(err)]; ok {
		return fmt.Errorf("%w (backend: %v)", s, err)
	}
	return unavailable(ctx, err)
}

// mapReadErr is mapErr for reads of one key: a key the backend refuses to
// hold (MinIO's XMinioInvalidObjectName for "a//b" or "../x", S3's
// KeyTooLongError) cannot be stored there, so it is absent.
func mapReadErr(ctx context.Context, err error) error {
	switch apiCode(err) {
	case "XMinioInvalidObjectName", "XMinioInvalidResourceName", "KeyTooLongError",
		// A HEAD's 400 has no body to name the code; we send nothing
		// else a HEAD could refuse.
		"BadRequest":
		return fmt.Errorf("%w (the backend cannot hold this key: %v)", store.ErrNoSuchKey, err)
	}
	return mapErr(ctx, err)
}

func unavailable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("backend: %w", ctx.Err())
	}
	if st := httpStatus(err); st != 0 && st < 500 {
		switch apiCode(err) {
		case "NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden":
			// The node is misconfigured or the backend bucket is gone:
			// nothing it serves would be right.
		default:
			return fmt.Errorf("backend: %w", err)
		}
	}
	return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
}

func unquote(etag *string) string { return strings.Trim(aws.ToString(etag), `"`) }
