package local

import (
	"bytes"
	"reflect"
	"testing"

	"mirrorstore/internal/store"
)

// sampleRecords are records of each location (inline, empty, file,
// parts), the first with every attribute set, for the decoders' tests.
func sampleRecords() []objectRecord {
	return []objectRecord{
		{size: 4096, etag: "e1", modTime: 7, loc: locInline, inline: bytes.Repeat([]byte("i"), 4096),
			attrs: store.ObjectAttrs{ContentType: "text/plain", ContentEncoding: "gzip", ContentDisposition: "inline",
				ContentLanguage: "en", CacheControl: "no-cache", Expires: "never", AccessControlAllowOrigin: "*",
				MirrorOrigin: "https://o/x", UserMeta: map[string]string{"a": "b", "c": "d"}, Tags: map[string]string{"t": "v"}}},
		{size: 0, etag: "d41d8cd98f00b204e9800998ecf8427e", modTime: -1, loc: locInline},
		{size: 1 << 20, etag: "e2", modTime: 8, loc: locFile, file: fileID{1, 2, 3}},
		{size: 3, etag: "e3-2", modTime: 9, loc: locParts, parts: []partRef{{fileID{4}, 1}, {fileID{5}, 2}}},
	}
}

// decodeObjectInfo must read every field decodeObject reads except the
// inline body, and reject the same damaged records.
func TestDecodeObjectInfo(t *testing.T) {
	for _, rec := range sampleRecords() {
		v := rec.encode()
		full, err := decodeObject(v)
		if err != nil {
			t.Fatal(err)
		}
		info, err := decodeObjectInfo(v)
		if err != nil {
			t.Fatal(err)
		}
		if info.inline != nil {
			t.Errorf("loc %d: inline body copied by decodeObjectInfo", rec.loc)
		}
		full.inline = nil
		if !reflect.DeepEqual(full, info) {
			t.Errorf("loc %d: decodeObjectInfo = %+v, decodeObject = %+v", rec.loc, info, full)
		}
		for n := 0; n < len(v); n++ {
			if _, err := decodeObjectInfo(v[:n]); err == nil {
				t.Fatalf("loc %d: record cut to %d of %d bytes decoded", rec.loc, n, len(v))
			}
		}
	}
}

// decodeListEntry must agree with decodeObject on the fields a listing
// shows, skip every other field whatever it holds, and reject the same
// damaged records.
func TestDecodeListEntry(t *testing.T) {
	for _, rec := range sampleRecords() {
		v := rec.encode()
		full, err := decodeObject(v)
		if err != nil {
			t.Fatal(err)
		}
		ent, err := decodeListEntry(v)
		if err != nil {
			t.Fatal(err)
		}
		if ent.size != full.size || string(ent.etag) != full.etag || ent.modTime != full.modTime || ent.parts != len(full.parts) {
			t.Errorf("loc %d: decodeListEntry = %+v, decodeObject = %+v", rec.loc, ent, full)
		}
		for n := 0; n < len(v); n++ {
			if _, err := decodeListEntry(v[:n]); err == nil {
				t.Fatalf("loc %d: record cut to %d of %d bytes decoded", rec.loc, n, len(v))
			}
		}
		if _, err := decodeListEntry(append(v, 0)); err == nil {
			t.Fatalf("loc %d: record with a trailing byte decoded", rec.loc)
		}
	}
}
