package e2e

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"mirrorstore/internal/server"
)

// startServerWith starts a plain-HTTP server like startServer, after mod
// has adjusted its configuration.
func startServerWith(t *testing.T, mod func(*server.Config)) *testServer {
	t.Helper()
	cfg := server.Config{
		Addr:            "127.0.0.1:0",
		DataDir:         filepath.Join(t.TempDir(), "data"),
		AccessKey:       testAccessKey,
		SecretKey:       testSecretKey,
		ShutdownTimeout: 5 * time.Second,
	}
	mod(&cfg)
	return startConfigured(t, cfg)
}

func (ts *testServer) userClient(accessKey, secretKey string) *s3.Client {
	return ts.sdkClient(credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""))
}

// getBody fetches bucket/key and returns its body, or the error.
func getBody(c *s3.Client, bucket, key string) (string, error) {
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return "", err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return string(b), err
}

func listKeys(c *s3.Client, bucket string) ([]string, error) {
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys, nil
}

// TestBucketPolicyAnonymous sets policies with the SDK's PutBucketPolicy and
// reads as an anonymous caller: GetObject only under the granted prefix,
// listing only with s3:ListBucket, and DeleteBucketPolicy makes the bucket
// private again.
func TestBucketPolicyAnonymous(t *testing.T) {
	ts := startServer(t, false)
	ctx := context.Background()
	root := ts.rootClient()
	anon := ts.sdkClient(aws.AnonymousCredentials{})
	mustCreateBucket(t, root, "site")
	mustPut(t, root, "site", "pub/a.html", []byte("public a"))
	mustPut(t, root, "site", "pub/secret.txt", []byte("denied"))
	mustPut(t, root, "site", "priv/b.html", []byte("private b"))

	_, err := root.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("site")})
	wantCode(t, err, "NoSuchBucketPolicy")
	if _, err := getBody(anon, "site", "pub/a.html"); apiCode(err) != "AccessDenied" {
		t.Fatalf("anonymous read of a private bucket: %v", err)
	}

	getOnly := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/pub/*"},
	  {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/pub/secret*"}]}`
	if _, err := root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("site"), Policy: aws.String(getOnly)}); err != nil {
		t.Fatal(err)
	}
	got, err := root.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("site")})
	if err != nil || aws.ToString(got.Policy) != getOnly {
		t.Fatalf("GetBucketPolicy: %q, %v", aws.ToString(got.Policy), err)
	}
	if body, err := getBody(anon, "site", "pub/a.html"); err != nil || body != "public a" {
		t.Fatalf("anonymous GET under the granted prefix: %q, %v", body, err)
	}
	if _, err := anon.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("site"), Key: aws.String("pub/a.html")}); err != nil {
		t.Fatalf("anonymous HEAD under the granted prefix: %v", err)
	}
	_, err = getBody(anon, "site", "pub/missing.html")
	wantCode(t, err, "NoSuchKey")
	_, err = getBody(anon, "site", "priv/b.html")
	wantCode(t, err, "AccessDenied")
	_, err = getBody(anon, "site", "pub/secret.txt")
	wantCode(t, err, "AccessDenied")
	_, err = listKeys(anon, "site")
	wantCode(t, err, "AccessDenied")
	_, err = anon.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("site"), Key: aws.String("pub/new"), Body: strings.NewReader("x")})
	wantCode(t, err, "AccessDenied")
	_, err = anon.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("site")})
	wantCode(t, err, "AccessDenied")

	withList := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"*"},"Action":["s3:GetObject"],"Resource":"arn:aws:s3:::site/pub/*"},
	  {"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::site"}]}`
	if _, err := root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("site"), Policy: aws.String(withList)}); err != nil {
		t.Fatal(err)
	}
	keys, err := listKeys(anon, "site")
	if err != nil || !slices.Equal(keys, []string{"priv/b.html", "pub/a.html", "pub/secret.txt"}) {
		t.Fatalf("anonymous list with s3:ListBucket: %v, %v", keys, err)
	}
	if _, err := anon.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("site")}); err != nil {
		t.Fatalf("anonymous ListObjects v1: %v", err)
	}
	if body, err := getBody(anon, "site", "pub/secret.txt"); err != nil || body != "denied" {
		t.Fatalf("the new policy has no Deny: %q, %v", body, err)
	}

	for _, bad := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::site/*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}`,
		`not json`,
	} {
		_, err := root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("site"), Policy: aws.String(bad)})
		wantCode(t, err, "MalformedPolicy")
	}
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("site"),
		Policy: aws.String(`{"Id":"` + strings.Repeat("x", 21<<10) + `"}`)})
	wantCode(t, err, "PolicyTooLarge")
	// A refused policy leaves the previous one in force.
	if _, err := listKeys(anon, "site"); err != nil {
		t.Fatalf("after refused policies: %v", err)
	}

	if _, err := root.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("site")}); err != nil {
		t.Fatal(err)
	}
	_, err = getBody(anon, "site", "pub/a.html")
	wantCode(t, err, "AccessDenied")
	_, err = listKeys(anon, "site")
	wantCode(t, err, "AccessDenied")
	_, err = root.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("site")})
	wantCode(t, err, "NoSuchBucketPolicy")
	if _, err := root.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("site")}); err != nil {
		t.Fatalf("deleting an absent policy: %v", err)
	}
	_, err = root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("nosuch"), Policy: aws.String(withList)})
	wantCode(t, err, "NoSuchBucket")

	// Versioning is never on: every status is refused, and the bucket
	// still reports it was never enabled.
	for _, st := range []types.BucketVersioningStatus{types.BucketVersioningStatusEnabled, types.BucketVersioningStatusSuspended} {
		_, err := root.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("site"),
			VersioningConfiguration: &types.VersioningConfiguration{Status: st}})
		wantCode(t, err, "NotImplemented")
	}
	v, err := root.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("site")})
	if err != nil || v.Status != "" {
		t.Fatalf("GetBucketVersioning: %q, %v", v.Status, err)
	}
}

// TestSeveralCredentials runs a --users file: each credential owns the
// buckets it creates, reaches the root's only where the policy names it,
// and a reload adds a user without a restart.
func TestSeveralCredentials(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users.yaml")
	writeUsers := func(content string) {
		t.Helper()
		if err := os.WriteFile(users, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeUsers("- {accessKey: ALICEKEY, secretKey: alice-secret, displayName: Alice}\n- {accessKey: BOBKEY, secretKey: bob-secret}\n")
	ts := startServerWith(t, func(c *server.Config) { c.UsersFile = users })
	ctx := context.Background()
	root := ts.rootClient()
	alice := ts.userClient("ALICEKEY", "alice-secret")
	bob := ts.userClient("BOBKEY", "bob-secret")

	mustCreateBucket(t, root, "rootb")
	mustPut(t, root, "rootb", "shared/doc.txt", []byte("shared doc"))
	mustPut(t, root, "rootb", "other/x.txt", []byte("other"))

	_, err := getBody(alice, "rootb", "shared/doc.txt")
	wantCode(t, err, "AccessDenied")
	_, err = listKeys(alice, "rootb")
	wantCode(t, err, "AccessDenied")
	_, err = alice.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("rootb"),
		Policy: aws.String(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::rootb/*"}]}`)})
	wantCode(t, err, "AccessDenied")

	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
	  "Principal":{"AWS":["arn:aws:iam::000000000000:user/ALICEKEY"]},
	  "Action":["s3:GetObject","s3:ListBucket"],
	  "Resource":["arn:aws:s3:::rootb","arn:aws:s3:::rootb/shared/*"]}]}`
	if _, err := root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("rootb"), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	if body, err := getBody(alice, "rootb", "shared/doc.txt"); err != nil || body != "shared doc" {
		t.Fatalf("alice under her grant: %q, %v", body, err)
	}
	if keys, err := listKeys(alice, "rootb"); err != nil || len(keys) != 2 {
		t.Fatalf("alice lists with her grant: %v, %v", keys, err)
	}
	_, err = getBody(alice, "rootb", "other/x.txt")
	wantCode(t, err, "AccessDenied")
	_, err = alice.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("rootb"), Key: aws.String("shared/new"), Body: strings.NewReader("x")})
	wantCode(t, err, "AccessDenied")
	_, err = alice.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("rootb"), Key: aws.String("shared/doc.txt")})
	wantCode(t, err, "AccessDenied")
	_, err = getBody(bob, "rootb", "shared/doc.txt")
	wantCode(t, err, "AccessDenied")
	// Anonymous callers are not named by the policy either.
	_, err = getBody(ts.sdkClient(aws.AnonymousCredentials{}), "rootb", "shared/doc.txt")
	wantCode(t, err, "AccessDenied")

	// Alice owns what she creates; copying from the root's bucket needs
	// the same grant as reading it.
	mustCreateBucket(t, alice, "aliceb")
	mustPut(t, alice, "aliceb", "mine.txt", []byte("alice's"))
	if _, err := alice.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("aliceb"), Key: aws.String("copy.txt"), CopySource: aws.String("rootb/shared/doc.txt")}); err != nil {
		t.Fatalf("copy under the grant: %v", err)
	}
	_, err = alice.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("aliceb"), Key: aws.String("copy2.txt"), CopySource: aws.String("rootb/other/x.txt")})
	wantCode(t, err, "AccessDenied")
	_, err = getBody(bob, "aliceb", "mine.txt")
	wantCode(t, err, "AccessDenied")
	if body, err := getBody(root, "aliceb", "mine.txt"); err != nil || body != "alice's" {
		t.Fatalf("root reads alice's bucket: %q, %v", body, err)
	}
	bucketsOf := func(c *s3.Client) []string {
		t.Helper()
		out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, b := range out.Buckets {
			names = append(names, aws.ToString(b.Name))
		}
		return names
	}
	if got := bucketsOf(alice); !slices.Equal(got, []string{"aliceb"}) {
		t.Errorf("alice's ListBuckets: %v", got)
	}
	if got := bucketsOf(bob); len(got) != 0 {
		t.Errorf("bob's ListBuckets: %v", got)
	}
	if got := bucketsOf(root); !slices.Equal(got, []string{"aliceb", "rootb"}) {
		t.Errorf("root's ListBuckets: %v", got)
	}
	_, err = bob.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("aliceb")})
	wantCode(t, err, "AccessDenied")

	// A reload adds carol; a broken file keeps the set in force.
	carol := ts.userClient("CAROLKEY", "carol-secret")
	_, err = carol.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantCode(t, err, "InvalidAccessKeyId")
	writeUsers("- {accessKey: ALICEKEY, secretKey: alice-secret}\n- {accessKey: CAROLKEY, secretKey: carol-secret}\n")
	if err := ts.ReloadUsers(); err != nil {
		t.Fatal(err)
	}
	mustCreateBucket(t, carol, "carolb")
	if got := bucketsOf(carol); !slices.Equal(got, []string{"carolb"}) {
		t.Errorf("carol's ListBuckets: %v", got)
	}
	_, err = bob.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantCode(t, err, "InvalidAccessKeyId")
	writeUsers("- {accessKey: CAROLKEY, secretKey: short}\n")
	if err := ts.ReloadUsers(); err == nil {
		t.Fatal("a secret of 5 characters was accepted")
	}
	if got := bucketsOf(carol); !slices.Equal(got, []string{"carolb"}) {
		t.Errorf("after a broken reload, carol's ListBuckets: %v", got)
	}
	if body, err := getBody(alice, "aliceb", "copy.txt"); err != nil || body != "shared doc" {
		t.Errorf("after a broken reload, alice: %q, %v", body, err)
	}
}
