package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"mirrorstore/internal/store"
	"mirrorstore/internal/store/storetest"
)

func newEngine(t testing.TB, dir string) *Engine {
	t.Helper()
	e, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Backend { return newEngine(t, t.TempDir()) })
}

// dataFiles lists the data files under objects/.
func dataFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(dir, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func mustPut(t testing.TB, e *Engine, bucket, key string, data []byte) {
	t.Helper()
	if _, err := e.PutObject(context.Background(), bucket, key, bytes.NewReader(data), store.PutOptions{Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, e *Engine, bucket, key string) []byte {
	t.Helper()
	obj, err := e.GetObject(context.Background(), bucket, key, store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestReopenAndOrphans: a reopened engine keeps every committed record and
// file, and removes stray files in objects/ and tmp/ (what a crash between
// writing a file and committing its record leaves).
func TestReopenAndOrphans(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CreateBucket(ctx, "bkt", "me"); err != nil {
		t.Fatal(err)
	}
	if err := e.PutBucketConfig(ctx, "bkt", "website", []byte("<w/>")); err != nil {
		t.Fatal(err)
	}
	small, large := []byte("small"), bytes.Repeat([]byte("L"), 100<<10)
	mustPut(t, e, "bkt", "small", small)
	mustPut(t, e, "bkt", "large", large)
	if err := e.SetObjectTags(ctx, "bkt", "large", map[string]string{"t": "v"}); err != nil {
		t.Fatal(err)
	}
	id, err := e.CreateMultipartUpload(ctx, "bkt", "mp", store.ObjectAttrs{})
	if err != nil {
		t.Fatal(err)
	}
	part, err := e.UploadPart(ctx, "bkt", "mp", id, 1, bytes.NewReader([]byte("pending part")), -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	live := dataFiles(t, dir)
	if len(live) != 2 { // large and the part; small is inline
		t.Fatalf("data files %v, want 2", live)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Ready(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ready after Close = %v, want ErrUnavailable", err)
	}

	strays := []string{
		filepath.Join(dir, "objects", "ab", "ab00000000000000000000000000000000"[:32]),
		filepath.Join(dir, "objects", "ab", "not-an-id"),
		filepath.Join(dir, "objects", "00", "ab000000000000000000000000000000"), // wrong fan-out directory
		filepath.Join(dir, "tmp", "data-123"),
	}
	for _, p := range strays {
		if err := os.WriteFile(p, []byte("orphan"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e = newEngine(t, dir)
	for _, p := range strays {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("stray %s survived Open: %v", p, err)
		}
	}
	if got := dataFiles(t, dir); !slices.Equal(got, live) {
		t.Fatalf("data files after reopen %v, want %v", got, live)
	}
	if got := mustRead(t, e, "bkt", "small"); !bytes.Equal(got, small) {
		t.Fatal("small object lost")
	}
	if got := mustRead(t, e, "bkt", "large"); !bytes.Equal(got, large) {
		t.Fatal("large object lost")
	}
	if head, err := e.HeadObject(ctx, "bkt", "large"); err != nil || head.Attrs.Tags["t"] != "v" {
		t.Fatalf("tags lost: %+v, %v", head, err)
	}
	if cfg, err := e.GetBucketConfig(ctx, "bkt", "website"); err != nil || string(cfg) != "<w/>" {
		t.Fatalf("config lost: %q, %v", cfg, err)
	}
	if b, err := e.HeadBucket(ctx, "bkt"); err != nil || b.Owner != "me" {
		t.Fatalf("bucket lost: %+v, %v", b, err)
	}
	info, err := e.CompleteMultipartUpload(ctx, "bkt", "mp", id, []store.CompletePart{{PartNumber: 1, ETag: part.ETag}}, store.Conditions{})
	if err != nil || info.Size != int64(len("pending part")) {
		t.Fatalf("completing the upload after reopen: %+v, %v", info, err)
	}
	if got := mustRead(t, e, "bkt", "mp"); string(got) != "pending part" {
		t.Fatalf("multipart object = %q", got)
	}
}

// TestFilesFreed: replacing, deleting, aborting and completing with unnamed
// parts leave no data file behind.
func TestFilesFreed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := newEngine(t, dir)
	if err := e.CreateBucket(ctx, "bkt", "me"); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 10<<10)
	check := func(step string, want int) {
		t.Helper()
		if got := dataFiles(t, dir); len(got) != want {
			t.Fatalf("%s: %d data files, want %d", step, len(got), want)
		}
	}
	mustPut(t, e, "bkt", "k", big)
	mustPut(t, e, "bkt", "k", append(big, 'y'))
	check("after replace", 1)
	mustPut(t, e, "bkt", "k", []byte("inline now"))
	check("after replace by an inline object", 0)
	mustPut(t, e, "bkt", "k", big)
	if err := e.DeleteObject(ctx, "bkt", "k"); err != nil {
		t.Fatal(err)
	}
	check("after delete", 0)
	_, err := e.PutObject(ctx, "bkt", "k", bytes.NewReader(big), store.PutOptions{Size: -1, ContentMD5: make([]byte, 16)})
	if !errors.Is(err, store.ErrBadDigest) {
		t.Fatal(err)
	}
	check("after a bad digest", 0)

	id, _ := e.CreateMultipartUpload(ctx, "bkt", "mp", store.ObjectAttrs{})
	for n := 1; n <= 3; n++ {
		if _, err := e.UploadPart(ctx, "bkt", "mp", id, n, bytes.NewReader(big), -1, nil); err != nil {
			t.Fatal(err)
		}
	}
	p, err := e.UploadPart(ctx, "bkt", "mp", id, 3, bytes.NewReader(big[1:]), -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("after replacing a part", 3)
	if _, err := e.CompleteMultipartUpload(ctx, "bkt", "mp", id, []store.CompletePart{{PartNumber: 3, ETag: p.ETag}}, store.Conditions{}); err != nil {
		t.Fatal(err)
	}
	check("after complete with unnamed parts", 1)
	id, _ = e.CreateMultipartUpload(ctx, "bkt", "mp2", store.ObjectAttrs{})
	if _, err := e.UploadPart(ctx, "bkt", "mp2", id, 1, bytes.NewReader(big), -1, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.AbortMultipartUpload(ctx, "bkt", "mp2", id); err != nil {
		t.Fatal(err)
	}
	check("after abort", 1)
	mustPut(t, e, "bkt", "mp", []byte("replaces the multipart object"))
	check("after replacing the multipart object", 0)
	if entries, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(entries) != 0 {
		t.Fatalf("tmp/ holds %d entries", len(entries))
	}
}

// TestDelimiterListingSeeks: a delimiter listing of many keys under few
// prefixes visits a handful of records, not every key.
func TestDelimiterListingSeeks(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, t.TempDir())
	if err := e.CreateBucket(ctx, "bkt", "me"); err != nil {
		t.Fatal(err)
	}
	// Records written directly: 60,000 synced PutObjects would only slow the test.
	b := e.db.NewBatch()
	rec := objectRecord{size: 1, etag: "x", loc: locInline, inline: []byte("x")}
	v := rec.encode()
	for _, p := range []string{"img/", "css/", "js/"} {
		for i := range 20000 {
			if err := b.Set(objectKey("bkt", fmt.Sprintf("%s%06d", p, i)), v, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	mustPut(t, e, "bkt", "index.html", []byte("x"))
	e.listSteps.Store(0)
	res, err := e.ListObjects(ctx, "bkt", store.ListOptions{Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.CommonPrefixes, []string{"css/", "img/", "js/"}) || len(res.Objects) != 1 {
		t.Fatalf("listing %+v", res)
	}
	if steps := e.listSteps.Load(); steps > 4 {
		t.Fatalf("delimiter listing visited %d records, want one per entry", steps)
	}
	e.listSteps.Store(0)
	res, err = e.ListObjects(ctx, "bkt", store.ListOptions{Prefix: "img/", After: "img/010000", MaxKeys: 3})
	if err != nil || len(res.Objects) != 3 || res.Objects[0].Key != "img/010001" || !res.IsTruncated {
		t.Fatalf("paged listing %+v, %v", res, err)
	}
	if steps := e.listSteps.Load(); steps > 4 {
		t.Fatalf("a page of 3 after a marker visited %d records", steps)
	}
}

// TestKeysNeverReachTheFilesystem: keys shaped like paths create nothing
// outside objects/.
func TestKeysNeverReachTheFilesystem(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	dir := filepath.Join(parent, "data")
	e := newEngine(t, dir)
	if err := e.CreateBucket(ctx, "bkt", "me"); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("z"), 8<<10)
	for _, k := range []string{"../escape", "../../escape", "/etc/escape", "a/../../escape", "objects/x"} {
		mustPut(t, e, "bkt", k, big)
	}
	top, err := os.ReadDir(parent)
	if err != nil || len(top) != 1 {
		t.Fatalf("entries beside the data folder: %v, %v", top, err)
	}
	if n := len(dataFiles(t, dir)); n != 5 {
		t.Fatalf("%d data files, want 5", n)
	}
}

func TestCorruptRecord(t *testing.T) {
	rec := objectRecord{size: 3, etag: "e", loc: locParts, parts: []partRef{{size: 3}}}
	v := rec.encode()
	for i := 0; i < len(v); i++ {
		if _, err := decodeObject(v[:i]); err == nil {
			t.Fatalf("a record truncated to %d of %d bytes decoded", i, len(v))
		}
	}
	if got, err := decodeObject(v); err != nil || got.size != 3 || len(got.parts) != 1 {
		t.Fatalf("decode = %+v, %v", got, err)
	}
}
