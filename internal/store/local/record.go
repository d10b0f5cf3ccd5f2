package local

import (
	"encoding/binary"
	"errors"
	"sort"
	"time"

	"mirrorstore/internal/store"
)

// Records are encoded by hand: a version byte, then uvarint-prefixed strings
// and varints in a fixed order. A 4 KiB inline object costs one record of
// ~4.1 KiB with no reflection, and a listing decodes thousands of records
// per page, which encoding/json would make the dominant cost.
const recordVersion = 1

// errCorrupt reports a record that does not decode; it means the metadata
// store was damaged or written by an incompatible version.
var errCorrupt = errors.New("corrupt metadata record")

// fileID names one immutable data file under objects/.
type fileID [16]byte

// Where an object's bytes live.
const (
	locInline = 0 // in the record itself
	locFile   = 1 // one data file
	locParts  = 2 // one data file per multipart part, in order
)

// partRef is one part of a completed multipart object.
type partRef struct {
	id   fileID
	size int64
}

// objectRecord is the value of an object key.
type objectRecord struct {
	size    int64
	etag    string
	modTime int64 // Unix nanoseconds
	attrs   store.ObjectAttrs
	loc     byte
	inline  []byte
	file    fileID
	parts   []partRef
}

// uploadRecord is the value of an upload key.
type uploadRecord struct {
	initiated int64
	attrs     store.ObjectAttrs
}

// partRecord is the value of a part key.
type partRecord struct {
	size    int64
	md5     [16]byte
	modTime int64
	file    fileID
}

// bucketRecord is the value of a bucket key.
type bucketRecord struct {
	created int64
	owner   string
}

type encoder struct{ b []byte }

func (e *encoder) byte(c byte)    { e.b = append(e.b, c) }
func (e *encoder) varint(v int64) { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) bytes(p []byte) {
	e.b = binary.AppendUvarint(e.b, uint64(len(p)))
	e.b = append(e.b, p...)
}
func (e *encoder) string(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *encoder) fileID(id fileID) { e.b = append(e.b, id[:]...) }
func (e *encoder) md5(sum [16]byte) { e.b = append(e.b, sum[:]...) }
func (e *encoder) strMap(m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic bytes for equal maps
	e.b = binary.AppendUvarint(e.b, uint64(len(keys)))
	for _, k := range keys {
		e.string(k)
		e.string(m[k])
	}
}

func (e *encoder) attrs(a *store.ObjectAttrs) {
	for _, s := range [...]string{a.ContentType, a.ContentEncoding, a.ContentDisposition,
		a.ContentLanguage, a.CacheControl, a.Expires, a.AccessControlAllowOrigin, a.MirrorOrigin} {
		e.string(s)
	}
	e.strMap(a.UserMeta)
	e.strMap(a.Tags)
}

// decoder reads what encoder wrote; the first failure sticks in err.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err = errCorrupt; d.b = nil }

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) raw(n uint64) []byte {
	if uint64(len(d.b)) < n {
		d.fail()
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) string() string { return string(d.raw(d.uvarint())) }

// bytes copies, because Pebble owns the buffer a record is decoded from.
func (d *decoder) bytes() []byte { return append([]byte(nil), d.raw(d.uvarint())...) }

func (d *decoder) fileID() (id fileID) { copy(id[:], d.raw(16)); return id }
func (d *decoder) md5() (s [16]byte)   { copy(s[:], d.raw(16)); return s }

func (d *decoder) strMap() map[string]string {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) { // each entry takes at least 2 bytes
		d.fail()
		return nil
	}
	m := make(map[string]string, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		k := d.string()
		m[k] = d.string()
	}
	return m
}

func (d *decoder) attrs() (a store.ObjectAttrs) {
	for _, p := range [...]*string{&a.ContentType, &a.ContentEncoding, &a.ContentDisposition,
		&a.ContentLanguage, &a.CacheControl, &a.Expires, &a.AccessControlAllowOrigin, &a.MirrorOrigin} {
		*p = d.string()
	}
	a.UserMeta = d.strMap()
	a.Tags = d.strMap()
	return a
}

func (d *decoder) version() {
	if d.byte() != recordVersion && d.err == nil {
		d.fail()
	}
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		return errCorrupt
	}
	return d.err
}

func (r *objectRecord) encode() []byte {
	e := encoder{b: make([]byte, 0, 64+len(r.inline)+len(r.etag)+20*len(r.parts))}
	e.byte(recordVersion)
	e.varint(r.size)
	e.string(r.etag)
	e.varint(r.modTime)
	e.attrs(&r.attrs)
	e.byte(r.loc)
	switch r.loc {
	case locInline:
		e.bytes(r.inline)
	case locFile:
		e.fileID(r.file)
	case locParts:
		e.varint(int64(len(r.parts)))
		for _, p := range r.parts {
			e.fileID(p.id)
			e.varint(p.size)
		}
	}
	return e.b
}

// What decodeObjectRecord does with an inline body.
const (
	inlineCopy   = iota // copied into a new slice
	inlineBorrow        // left pointing into b: valid only while b is
	inlineSkip          // checked, not kept (inline stays nil)
)

func decodeObject(b []byte) (objectRecord, error) { return decodeObjectRecord(b, inlineCopy) }

// decodeObjectInfo is decodeObject without copying an inline body (inline
// stays nil): a listing needs only the fields before it, and copying 4 KiB
// per key was most of the cost of a page of small objects.
func decodeObjectInfo(b []byte) (objectRecord, error) { return decodeObjectRecord(b, inlineSkip) }

func decodeObjectRecord(b []byte, inline int) (objectRecord, error) {
	var r objectRecord
	d := decoder{b: b}
	d.version()
	r.size = d.varint()
	r.etag = d.string()
	r.modTime = d.varint()
	r.attrs = d.attrs()
	r.loc = d.byte()
	switch r.loc {
	case locInline:
		switch inline {
		case inlineCopy:
			r.inline = d.bytes()
		case inlineBorrow:
			r.inline = d.raw(d.uvarint())
		default:
			d.raw(d.uvarint()) // checked, not copied
		}
	case locFile:
		r.file = d.fileID()
	case locParts:
		n := d.varint()
		if n <= 0 || n > 10000 {
			d.fail()
			break
		}
		r.parts = make([]partRef, n)
		for i := range r.parts {
			r.parts[i].id = d.fileID()
			r.parts[i].size = d.varint()
		}
	default:
		d.fail()
	}
	return r, d.done()
}

// listEntry is what a listing needs of an object record.
type listEntry struct {
	size    int64
	etag    []byte // points into the record: valid only while it is
	modTime int64
	parts   int
}

// decodeListEntry decodes the fields a listing shows (size, ETag, time,
// part count) and checks the rest of the record without keeping it: no
// content headers, metadata or tags are made, so a page of 1,000 keys
// allocates nothing per key here.
func decodeListEntry(b []byte) (listEntry, error) {
	var r listEntry
	d := decoder{b: b}
	d.version()
	r.size = d.varint()
	r.etag = d.raw(d.uvarint())
	r.modTime = d.varint()
	for range 8 { // the content headers, as attrs() reads them
		d.raw(d.uvarint())
	}
	for range 2 { // user metadata and tags
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			d.fail()
		}
		for i := uint64(0); i < 2*n && d.err == nil; i++ {
			d.raw(d.uvarint())
		}
	}
	switch d.byte() {
	case locInline:
		d.raw(d.uvarint())
	case locFile:
		d.raw(16)
	case locParts:
		n := d.varint()
		if n <= 0 || n > 10000 {
			d.fail()
			break
		}
		r.parts = int(n)
		for range n {
			d.raw(16)
			d.varint()
		}
	default:
		d.fail()
	}
	return r, d.done()
}

// files lists the data files the object's bytes live in.
func (r *objectRecord) files() []fileID {
	switch r.loc {
	case locFile:
		return []fileID{r.file}
	case locParts:
		ids := make([]fileID, len(r.parts))
		for i, p := range r.parts {
			ids[i] = p.id
		}
		return ids
	}
	return nil
}

func (r *objectRecord) info(bucket, key string) store.ObjectInfo {
	return store.ObjectInfo{
		Bucket:       bucket,
		Key:          key,
		Size:         r.size,
		ETag:         r.etag,
		LastModified: time.Unix(0, r.modTime).UTC(),
		PartsCount:   len(r.parts),
		Attrs:        r.attrs,
	}
}

func (r *uploadRecord) encode() []byte {
	e := encoder{}
	e.byte(recordVersion)
	e.varint(r.initiated)
	e.attrs(&r.attrs)
	return e.b
}

func decodeUpload(b []byte) (uploadRecord, error) {
	var r uploadRecord
	d := decoder{b: b}
	d.version()
	r.initiated = d.varint()
	r.attrs = d.attrs()
	return r, d.done()
}

func (r *partRecord) encode() []byte {
	e := encoder{}
	e.byte(recordVersion)
	e.varint(r.size)
	e.md5(r.md5)
	e.varint(r.modTime)
	e.fileID(r.file)
	return e.b
}

func decodePart(b []byte) (partRecord, error) {
	var r partRecord
	d := decoder{b: b}
	d.version()
	r.size = d.varint()
	r.md5 = d.md5()
	r.modTime = d.varint()
	r.file = d.fileID()
	return r, d.done()
}

func (r *bucketRecord) encode() []byte {
	e := encoder{}
	e.byte(recordVersion)
	e.varint(r.created)
	e.string(r.owner)
	return e.b
}

func decodeBucket(b []byte) (bucketRecord, error) {
	var r bucketRecord
	d := decoder{b: b}
	d.version()
	r.created = d.varint()
	r.owner = d.string()
	return r, d.done()
}
