package local

import (
	"encoding/binary"
	"strings"
)

// Pebble key layout. Every key starts with a one-byte kind and a NUL, and
// bucket names (S3 rules: lowercase letters, digits, '-', '.') never contain
// NUL, so "<kind>\x00<bucket>\x00" is an unambiguous prefix for everything
// of one bucket. Object keys follow verbatim, so a bucket's objects sort
// byte-wise by key and a prefix listing is one contiguous range.
//
//	b\x00<bucket>                      bucket record
//	c\x00<bucket>\x00<name>            bucket configuration blob
//	o\x00<bucket>\x00<key>             object record
//	u\x00<bucket>\x00<key>\x00<upload> multipart upload record
//	p\x00<upload><part uint32 BE>      part record
//	n\x00<bucket>                      per-bucket usage (usage.go)
//	r\x00ready                         Ready's probe write
//	r\x00usage                         usage records are kept (usage.go)
//
// Upload ids are fixed-width (uploadIDLen hex chars, time first), so an
// upload key parses from its end and a key's uploads sort by initiation.
const (
	kindBucket = 'b'
	kindConfig = 'c'
	kindObject = 'o'
	kindUpload = 'u'
	kindPart   = 'p'
)

func bucketKey(bucket string) []byte {
	return append([]byte{kindBucket, 0}, bucket...)
}

// bucketPrefix returns "<kind>\x00<bucket>\x00".
func bucketPrefix(kind byte, bucket string) []byte { return keyWithRoom(kind, bucket, 0) }

// keyWithRoom is bucketPrefix with capacity for extra more bytes, so the
// key built on it is one allocation.
func keyWithRoom(kind byte, bucket string, extra int) []byte {
	b := make([]byte, 0, len(bucket)+3+extra)
	b = append(b, kind, 0)
	b = append(b, bucket...)
	return append(b, 0)
}

func configKey(bucket, name string) []byte {
	return append(keyWithRoom(kindConfig, bucket, len(name)), name...)
}

func objectKey(bucket, key string) []byte {
	return append(keyWithRoom(kindObject, bucket, len(key)), key...)
}

func uploadKey(bucket, key, uploadID string) []byte {
	b := append(keyWithRoom(kindUpload, bucket, len(key)+1+len(uploadID)), key...)
	b = append(b, 0)
	return append(b, uploadID...)
}

// uploadsStart is the first upload key a listing after keyMarker (and
// uploadIDMarker) may return, or nil without a key marker. With an upload
// id marker it is just past that upload; without, just past every
// "<keyMarker>\x00<id>", the marker key's own uploads.
//
// Keys hold no NUL (the API refuses them) but a marker may. The keys after
// "<p>\x00<rest>" are then exactly those after p but p itself, so the
// marker is cut at its NUL and the uploads of p skipped.
func uploadsStart(bucket, keyMarker, uploadIDMarker string) []byte {
	if i := strings.IndexByte(keyMarker, 0); i >= 0 {
		keyMarker, uploadIDMarker = keyMarker[:i], ""
		if keyMarker == "" {
			// Every key is after "\x00…"; start at the beginning.
			return nil
		}
	}
	switch {
	case keyMarker == "":
		return nil
	case uploadIDMarker != "":
		return append(uploadKey(bucket, keyMarker, uploadIDMarker), 0)
	}
	return append(append(bucketPrefix(kindUpload, bucket), keyMarker...), 1)
}

func partPrefix(uploadID string) []byte {
	b := append([]byte{kindPart, 0}, uploadID...)
	return b
}

func partKey(uploadID string, part int) []byte {
	return binary.BigEndian.AppendUint32(partPrefix(uploadID), uint32(part))
}

// prefixEnd returns the smallest key greater than every key that starts
// with p, or nil when there is none (p is all 0xff).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
