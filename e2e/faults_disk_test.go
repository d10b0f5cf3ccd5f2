package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mirrorstore/internal/auth"
	"mirrorstore/internal/s3api"
	"mirrorstore/internal/server"
	"mirrorstore/internal/store/local"
)

// faultyFile fails the write, sync or close of a data file when its
// engine's fault says so, as a failing disk would. A failing write stores
// the first 64 KiB of the body and then half of the buffer it is given, as
// a real short write does, so the fault lands mid-body. The file is a
// field, not embedded: *os.File's ReadFrom would let io.Copy bypass Write.
type faultyFile struct {
	f       *os.File
	fault   *atomic.Value // of string: "", "write", "sync" or "close"
	written int
}

var errInjected = errors.New("injected I/O error")

func (f *faultyFile) Name() string { return f.f.Name() }

func (f *faultyFile) Write(p []byte) (int, error) {
	if f.fault.Load() == "write" && f.written+len(p) > 64<<10 {
		n, _ := f.f.Write(p[:len(p)/2])
		return n, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.EIO}
	}
	n, err := f.f.Write(p)
	f.written += n
	return n, err
}

func (f *faultyFile) Sync() error {
	if f.fault.Load() == "sync" {
		return &fs.PathError{Op: "sync", Path: f.Name(), Err: syscall.EIO}
	}
	return f.f.Sync()
}

func (f *faultyFile) Close() error {
	err := f.f.Close()
	if f.fault.Load() == "close" {
		return fmt.Errorf("close %s: %w", f.Name(), errInjected)
	}
	return err
}

// storeFiles counts the regular files under dir/objects and dir/tmp.
func storeFiles(t *testing.T, dir string) (objects, tmp int) {
	t.Helper()
	for _, sub := range []string{"objects", "tmp"} {
		n := 0
		err := filepath.WalkDir(filepath.Join(dir, sub), func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				n++
			}
			return err
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if sub == "objects" {
			objects = n
		} else {
			tmp = n
		}
	}
	return objects, tmp
}

func faultClient(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
		Retryer:      aws.NopRetryer{},
	})
}

// allKeys is every key of bucket, sorted.
func allKeys(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	sort.Strings(keys)
	return keys
}

func getBytes(c *s3.Client, bucket, key string) ([]byte, error) {
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// TestDiskWriteErrors injects a write, fsync or close failure into the
// data file of every kind of write (PUT, overwrite, CopyObject,
// UploadPart): the client gets 500 InternalError, nothing of the write is
// stored (no listing entry, no part, the old bytes of an overwritten key
// intact, no file left in objects/ or tmp/), reads go on, and the same
// write succeeds once the disk behaves.
func TestDiskWriteErrors(t *testing.T) {
	dir := t.TempDir()
	var fault atomic.Value
	fault.Store("")
	eng, err := local.OpenWith(dir, local.Options{WrapDataFile: func(f *os.File) local.DataFile {
		return &faultyFile{f: f, fault: &fault}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	keys := auth.NewKeyring(auth.Credential{AccessKey: testAccessKey, SecretKey: testSecretKey})
	srv := httptest.NewServer(s3api.New(s3api.Config{Backend: eng, Auth: auth.NewVerifier(keys), Keys: keys}))
	defer srv.Close()
	c := faultClient(srv.URL)
	ctx := context.Background()
	const bucket = "faults"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	old := bytes.Repeat([]byte("old bytes "), 10<<10)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("kept"), Body: bytes.NewReader(old)}); err != nil {
		t.Fatal(err)
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("new bytes!"), 20<<10)
	writes := []struct {
		name string
		do   func() error
		// check reports what the write left after it failed.
		check func() error
	}{
		{"PutObject", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("new"), Body: bytes.NewReader(body)})
			return err
		}, func() error {
			if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("new")}); httpStatus(err) != http.StatusNotFound {
				return fmt.Errorf("HEAD of the failed key: %v, want 404", err)
			}
			return nil
		}},
		{"overwrite", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("kept"), Body: bytes.NewReader(body)})
			return err
		}, func() error { return nil }}, // "kept" is read below after every fault
		{"CopyObject", func() error {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy"), CopySource: aws.String(bucket + "/kept")})
			return err
		}, func() error {
			if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy")}); httpStatus(err) != http.StatusNotFound {
				return fmt.Errorf("HEAD of the failed copy: %v, want 404", err)
			}
			return nil
		}},
		{"UploadPart", func() error {
			_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(body)})
			return err
		}, func() error {
			parts, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String("mp"), UploadId: up.UploadId})
			if err != nil {
				return err
			}
			if len(parts.Parts) != 0 {
				return fmt.Errorf("the failed part is listed: %d parts", len(parts.Parts))
			}
			return nil
		}},
	}
	tried := 0
	for _, f := range []string{"write", "sync", "close"} {
		for _, w := range writes {
			objects, _ := storeFiles(t, dir)
			fault.Store(f)
			err := w.do()
			fault.Store("")
			tried++
			if httpStatus(err) != http.StatusInternalServerError || apiCode(err) != "InternalError" {
				t.Errorf("%s with a failing %s: %v, want 500 InternalError", w.name, f, err)
			}
			if err := w.check(); err != nil {
				t.Errorf("%s with a failing %s: %v", w.name, f, err)
			}
			if got := allKeys(t, c, bucket); fmt.Sprint(got) != "[kept]" {
				t.Errorf("%s with a failing %s: listing %v, want [kept]", w.name, f, got)
			}
			if got, err := getBytes(c, bucket, "kept"); err != nil || !bytes.Equal(got, old) {
				t.Errorf("%s with a failing %s: GET kept: %d bytes, %v; want its %d old bytes", w.name, f, len(got), err, len(old))
			}
			if after, tmp := storeFiles(t, dir); after != objects || tmp != 0 {
				t.Errorf("%s with a failing %s: %d data files (was %d), %d in tmp/: half-stored", w.name, f, after, objects, tmp)
			}
		}
	}
	// The disk behaves again: every write goes through.
	for _, w := range writes {
		if err := w.do(); err != nil {
			t.Errorf("%s after the faults: %v", w.name, err)
		}
	}
	if got := allKeys(t, c, bucket); fmt.Sprint(got) != "[copy kept new]" {
		t.Errorf("after the faults: listing %v", got)
	}
	t.Logf("disk write faults: %d injected (write, fsync, close × PUT, overwrite, copy, part), each 500 with nothing stored", tried)
}

// mountTmpfs mounts a tmpfs of size bytes on a new folder, unmounted at
// the end of the test. It skips the test where mounting is not allowed.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a full disk needs a small tmpfs, and mounting one needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount a %s tmpfs: %v %s", size, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// TestDiskFull runs the server on a 32 MiB tmpfs and writes until the disk
// is full. The PUT that does not fit, an UploadPart and a mirror fill that
// do not fit answer 500 InternalError (or cut the fill) and store nothing:
// no listing entry, no part, no file left in tmp/ or the fill staging
// folder. Small PUTs, whose bytes go into the metadata store, are refused
// too before the metadata log meets the full disk (which Pebble does not
// survive: the process used to exit). Every acknowledged object still
// reads back whole, and once objects are deleted, writes work again.
func TestDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, "32m")
	data := filepath.Join(mnt, "data")
	o := newFakeOrigin(t)
	big := bytes.Repeat([]byte("origin body "), 1<<20) // 12 MiB: never fits the 8 MiB reserve
	o.serve("/big", big)
	s, err := server.Start(server.Config{
		Addr: "127.0.0.1:0", DataDir: data, AccessKey: testAccessKey, SecretKey: testSecretKey,
		ShutdownTimeout: 5 * time.Second,
		Mirror:          server.MirrorConfig{AllowPrivate: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, client: &http.Client{}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	waitReady(t, ts.client, s.URL())
	ts.mirrorBucket(t, "full", mirrorRule(1, "m/", o.URL+"/", ""))
	c := ts.rootClient()
	ctx := context.Background()

	object := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 1<<20) }
	var acked []string
	var full error
	for i := 0; i < 80 && full == nil; i++ {
		key := fmt.Sprintf("obj%02d", i)
		if _, full = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("full"), Key: aws.String(key), Body: bytes.NewReader(object(i))}); full == nil {
			acked = append(acked, key)
		}
	}
	if full == nil {
		t.Fatalf("80 MiB went into a 32 MiB disk")
	}
	if httpStatus(full) != http.StatusInternalServerError || apiCode(full) != "InternalError" {
		t.Fatalf("the PUT that did not fit: %v, want 500 InternalError", full)
	}
	t.Logf("disk full after %d objects of 1 MiB: %v", len(acked), full)

	want := func(key string) []byte {
		if strings.HasPrefix(key, "small") {
			return bytes.Repeat([]byte("s"), 3000)
		}
		var i int
		fmt.Sscanf(key, "obj%02d", &i)
		return object(i)
	}
	checkNothingHalfStored := func(what string) {
		t.Helper()
		if got := allKeys(t, c, "full"); fmt.Sprint(got) != fmt.Sprint(acked) {
			t.Errorf("%s: listing %v, want the acknowledged %v", what, got, acked)
		}
		for _, dir := range []string{"tmp", "mirror-staging"} {
			if left, _ := os.ReadDir(filepath.Join(data, dir)); len(left) != 0 {
				t.Errorf("%s: %d files left in %s/", what, len(left), dir)
			}
		}
		for _, key := range acked {
			if !strings.HasPrefix(key, "obj") && rand.IntN(50) != 0 {
				continue // a sample of the small ones
			}
			if got, err := getBytes(c, "full", key); err != nil || !bytes.Equal(got, want(key)) {
				t.Errorf("%s: GET %s: %d bytes, %v", what, key, len(got), err)
			}
		}
	}
	checkNothingHalfStored("after the PUT that did not fit")

	// Small objects live in the metadata store: they are refused once the
	// reserve is reached, and the server stays up.
	small := 0
	for ; small < 20000; small++ {
		key := fmt.Sprintf("small%05d", small)
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("full"), Key: aws.String(key), Body: bytes.NewReader(bytes.Repeat([]byte("s"), 3000))})
		if err != nil {
			if httpStatus(err) != http.StatusInternalServerError || apiCode(err) != "InternalError" {
				t.Fatalf("small PUT %d on a full disk: %v, want 500 InternalError", small, err)
			}
			break
		}
		acked = append(acked, key)
	}
	if small == 20000 {
		t.Fatalf("20000 small PUTs on a full disk all succeeded")
	}
	t.Logf("then %d small (inline) objects before the reserve refused them", small)
	sort.Strings(acked)

	// A part of 5 MiB does not fit either.
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("full"), Key: aws.String("mp")})
	if err != nil {
		t.Fatalf("create upload on a full disk: %v", err)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("full"), Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(bytes.Repeat([]byte("p"), 5<<20))})
	if httpStatus(err) != http.StatusInternalServerError || apiCode(err) != "InternalError" {
		t.Errorf("UploadPart on a full disk: %v, want 500 InternalError", err)
	}
	if parts, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("full"), Key: aws.String("mp"), UploadId: up.UploadId}); err != nil || len(parts.Parts) != 0 {
		t.Errorf("parts after the failed UploadPart: %v, %v", parts, err)
	}
	checkNothingHalfStored("after the part that did not fit")

	// A fill that does not fit: the client may already have headers, so it
	// sees either an error status or a body cut short, never the whole
	// object; nothing is stored and the next GET fills afresh.
	a, err := ts.try(signedRequest(t, s.URL(), http.MethodGet, "/full/m/big", nil))
	if err == nil && a.readErr == nil && a.status == http.StatusOK && bytes.Equal(a.body, big) {
		t.Errorf("a 12 MiB fill on a full disk was served whole")
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("full"), Key: aws.String("m/big")}); httpStatus(err) != http.StatusNotFound {
		t.Errorf("HEAD of the fill that did not fit: %v, want 404", err)
	}
	checkNothingHalfStored("after the fill that did not fit")

	// Space freed: writes go through again.
	var objs []string
	for _, key := range acked {
		if strings.HasPrefix(key, "obj") {
			objs = append(objs, key)
		}
	}
	for _, key := range objs[:len(objs)/2+1] {
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("full"), Key: aws.String(key)}); err != nil {
			t.Fatalf("DELETE %s on a full disk: %v", key, err)
		}
	}
	acked = slices.DeleteFunc(acked, func(k string) bool { return slices.Contains(objs[:len(objs)/2+1], k) })
	checkNothingHalfStored("after the deletes")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("full"), Key: aws.String("zafter"), Body: bytes.NewReader(object(3))}); err != nil {
		t.Fatalf("PUT after space was freed: %v", err)
	}
	if got, err := getBytes(c, "full", "zafter"); err != nil || !bytes.Equal(got, object(3)) {
		t.Errorf("GET of the PUT after space was freed: %d bytes, %v", len(got), err)
	}
	if resp, err := http.Get(s.URL() + "/-/ready"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/-/ready after space was freed: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
