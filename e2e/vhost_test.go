package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"mirrorstore/internal/server"
)

// dialEverythingTo returns a client that connects to addr whatever host a
// URL names, as DNS pointing every name at the server would.
func dialEverythingTo(addr string) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

// rawRequest sends method host+path over client; with sign it carries the
// root credential's SigV4 signature (the SDK's signer), else none.
func rawRequest(t *testing.T, client *http.Client, method, host, path, body string, sign bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+host+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if sign {
		sum := sha256.Sum256([]byte(body))
		hash := hex.EncodeToString(sum[:])
		req.Header.Set("X-Amz-Content-Sha256", hash)
		creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
		if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(), creds, req, hash, "s3", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestVirtualHostAddressing runs the SDK with virtual-host style against
// --domain example.com (every name dialled to the server), then raw
// requests whose Host is a bucket's own name, as a site pointed at the
// server sends them.
func TestVirtualHostAddressing(t *testing.T) {
	ts := startServerWith(t, func(c *server.Config) { c.Domain = "example.com" })
	addr := strings.TrimPrefix(ts.URL(), "http://")
	_, port, _ := net.SplitHostPort(addr)
	dial := dialEverythingTo(addr)
	t.Cleanup(dial.CloseIdleConnections)
	ctx := context.Background()
	vh := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://example.com:" + port),
		UsePathStyle: false,
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
		HTTPClient:   dial,
	})
	var hosts []string
	vhLogged := s3.New(vh.Options(), func(o *s3.Options) {
		o.HTTPClient = clientFunc(func(r *http.Request) (*http.Response, error) {
			hosts = append(hosts, r.URL.Host+" "+r.URL.Path)
			return dial.Do(r)
		})
	})

	if _, err := vhLogged.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vhb")}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"dir/a b.txt", "x//y", "-/healthy"} {
		if _, err := vhLogged.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vhb"), Key: aws.String(key), Body: strings.NewReader("body of " + key)}); err != nil {
			t.Fatalf("put %q: %v", key, err)
		}
	}
	if len(hosts) == 0 || !strings.HasPrefix(hosts[0], "vhb.example.com:"+port+" /") {
		t.Fatalf("the SDK did not address by host: %v", hosts)
	}
	if body, err := getBody(vhLogged, "vhb", "dir/a b.txt"); err != nil || body != "body of dir/a b.txt" {
		t.Fatalf("virtual-host GET: %q, %v", body, err)
	}
	if body, err := getBody(ts.rootClient(), "vhb", "x//y"); err != nil || body != "body of x//y" {
		t.Fatalf("path-style GET of a virtual-host PUT: %q, %v", body, err)
	}
	keys, err := listKeys(vh, "vhb")
	if err != nil || len(keys) != 3 {
		t.Fatalf("virtual-host list: %v, %v", keys, err)
	}
	// The domain itself is the service: ListBuckets.
	lb, err := vh.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != "vhb" {
		t.Fatalf("ListBuckets at the domain: %+v, %v", lb, err)
	}
	// A presigned virtual-host URL works from a plain client.
	ps, err := s3.NewPresignClient(vh).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vhb"), Key: aws.String("dir/a b.txt")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := dial.Get(ps.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "body of dir/a b.txt" {
		t.Fatalf("presigned virtual-host GET %s: %d %q", ps.URL, resp.StatusCode, b)
	}
	_, err = vh.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("nosuch"), Key: aws.String("k")})
	wantCode(t, err, "NoSuchBucket")
	if _, err := vh.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vhb"), Key: aws.String("x//y")}); err != nil {
		t.Fatal(err)
	}

	// A bucket named like a site: its Host addresses it, even under the
	// domain (an existing bucket named exactly like the Host wins).
	root := ts.rootClient()
	for _, name := range []string{"www.example.com", "static.example.org"} {
		if _, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name), ACL: types.BucketCannedACLPublicRead}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		method, host, path, body string
		sign                     bool
		status                   int
		want                     string
	}{
		{"PUT", "www.example.com:" + port, "/index.html", "<h1>www</h1>", true, 200, ""},
		{"PUT", "static.example.org", "/css/site.css", "body{}", true, 200, ""},
		{"GET", "www.example.com", "/index.html", "", false, 200, "<h1>www</h1>"},
		{"GET", "WWW.Example.COM:" + port, "/index.html", "", false, 200, "<h1>www</h1>"},
		{"GET", "static.example.org:" + port, "/css/site.css", "", false, 200, "body{}"},
		{"HEAD", "static.example.org", "/css/site.css", "", false, 200, ""},
		{"GET", "www.example.com", "/missing.html", "", false, 404, "NoSuchKey"},
		{"PUT", "www.example.com", "/anon.html", "x", false, 403, "AccessDenied"},
		{"GET", "vhb.example.com", "/dir/a%20b.txt", "", true, 200, "body of dir/a b.txt"},
		{"GET", "vhb.example.com", "/dir/a%20b.txt", "", false, 403, "AccessDenied"},
		// A Host naming no bucket, the server's own address and the
		// domain are path style.
		{"GET", "nosuch.example.org", "/static.example.org/css/site.css", "", false, 200, "body{}"},
		{"GET", addr, "/static.example.org/css/site.css", "", false, 200, "body{}"},
		{"GET", "localhost:" + port, "/www.example.com/index.html", "", false, 200, "<h1>www</h1>"},
		{"GET", "example.com:" + port, "/www.example.com/index.html", "", false, 200, "<h1>www</h1>"},
		{"GET", "example.com", "/", "", true, 200, "<Name>www.example.com</Name>"},
		// The health endpoints answer path style; under a bucket's Host
		// "-/healthy" is a key like any other.
		{"GET", addr, "/-/healthy", "", false, 200, "ok\n"},
		{"GET", "vhb.example.com", "/-/healthy", "", true, 200, "body of -/healthy"},
		{"GET", "www.example.com", "/-/healthy", "", false, 404, "NoSuchKey"},
	} {
		status, body := rawRequest(t, dial, tt.method, tt.host, tt.path, tt.body, tt.sign)
		if status != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s %s%s: %d %q, want %d with %q", tt.method, tt.host, tt.path, status, body, tt.status, tt.want)
		}
	}
	// Objects put through a bucket-named Host are the bucket's objects.
	if body, err := getBody(root, "www.example.com", "index.html"); err != nil || body != "<h1>www</h1>" {
		t.Fatalf("path-style read of a Host-addressed PUT: %q, %v", body, err)
	}
	// Listing through the bucket-named Host is a bucket-level request.
	status, body := rawRequest(t, dial, "GET", "static.example.org", "/?list-type=2", "", true)
	var res struct{ Name string }
	if status != 200 || xml.Unmarshal([]byte(body), &res) != nil || res.Name != "static.example.org" {
		t.Fatalf("list through the Host: %d %q", status, body)
	}
}

// clientFunc adapts a function to the SDK's HTTP client interface.
type clientFunc func(*http.Request) (*http.Response, error)

func (f clientFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }
