package s3api

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"mirrorstore/internal/store"
)

// rangeGrammar is the reference for one byte range (RFC 9110 §14.1.2):
// digits only, no sign, no inner spaces.
var (
	rangeGrammar     = regexp.MustCompile(`^(?:([0-9]+)-([0-9]*)|-([0-9]+))$`)
	copyRangeGrammar = regexp.MustCompile(`^bytes=([0-9]+)-([0-9]+)$`)
)

// FuzzRange checks Range and x-amz-copy-source-range parsing against the
// grammar above, and that every range that parses resolves, for any object
// size, to a slice inside the object whose Content-Range reads back.
func FuzzRange(f *testing.F) {
	for _, s := range []string{
		"bytes=0-0", "bytes=0-", "bytes=-1", "bytes=-0", "bytes=5-4", "bytes=0-1,2-3",
		"bytes= 1-2 ", "bytes=+1-2", "bytes=1-+2", "bytes=--1", "bytes=-+1", "bytes=1--2",
		"bytes=9223372036854775807-", "bytes=-9223372036854775808", "bytes=99999999999999999999-",
		"items=0-1", "bytes=", "bytes=-", "bytes=\t0-1\n", "bytes=0x1-2", "bytes=1_0-2", "BYTES=0-1",
	} {
		f.Add(s, int64(10))
	}
	f.Add("bytes=0-", int64(0))
	f.Add("bytes=-5", int64(1<<62))
	f.Fuzz(func(t *testing.T, v string, size int64) {
		checkRange(t, v, size)
		checkCopySourceRange(t, v)
	})
}

func checkRange(t *testing.T, v string, size int64) {
	rg, ok, err := parseRange(v)

	// The reference: "bytes=" and one range, surrounding spaces allowed,
	// numbers that fit in int64; anything else is ignored (whole object).
	wantOK, wantErr := false, false
	var want store.Range
	if spec, found := strings.CutPrefix(v, "bytes="); found {
		if m := rangeGrammar.FindStringSubmatch(strings.TrimSpace(spec)); m != nil {
			if m[3] != "" {
				n, perr := strconv.ParseInt(m[3], 10, 64)
				switch {
				case perr != nil:
				case n == 0:
					wantErr = true
				default:
					wantOK, want = true, store.Range{Suffix: n}
				}
			} else {
				first, perr := strconv.ParseInt(m[1], 10, 64)
				last, lerr := int64(-1), error(nil)
				if m[2] != "" {
					last, lerr = strconv.ParseInt(m[2], 10, 64)
				}
				if perr == nil && lerr == nil && (m[2] == "" || last >= first) {
					wantOK, want = true, store.Range{First: first, Last: last}
				}
			}
		}
	}
	switch {
	case wantErr:
		var e *Error
		if !errors.As(err, &e) || e.Code != "InvalidRange" {
			t.Fatalf("parseRange(%q): err %v, want InvalidRange", v, err)
		}
		return
	case err != nil:
		t.Fatalf("parseRange(%q): unexpected error %v", v, err)
	case ok != wantOK || rg != want:
		t.Fatalf("parseRange(%q) = %+v, %v; the grammar gives %+v, %v", v, rg, ok, want, wantOK)
	}
	if !ok || size < 0 {
		return
	}
	off, n, err := rg.Resolve(size)
	if err != nil {
		if !errors.Is(err, store.ErrInvalidRange) {
			t.Fatalf("Resolve: %v", err)
		}
		// Unsatisfiable only when it starts at or past the end, or is a
		// suffix of an empty object.
		if !(rg.Suffix == 0 && rg.First >= size) && !(rg.Suffix > 0 && size == 0) {
			t.Fatalf("%+v of %d bytes refused", rg, size)
		}
		return
	}
	if off < 0 || n < 1 || off > size-n {
		t.Fatalf("%+v of %d bytes resolved to offset %d length %d", rg, size, off, n)
	}
	if rg.Suffix > 0 && (n != min(rg.Suffix, size) || off+n != size) {
		t.Fatalf("suffix %+v of %d bytes resolved to offset %d length %d", rg, size, off, n)
	}
	if rg.Suffix == 0 && (off != rg.First || (rg.Last >= 0 && rg.Last < size && off+n-1 != rg.Last)) {
		t.Fatalf("%+v of %d bytes resolved to offset %d length %d", rg, size, off, n)
	}
	// Content-Range says the same slice, and a client parsing it reads
	// back what was served.
	cr := contentRange(off, n, size)
	var a, b, c int64
	if _, err := fmtSscanf(cr, &a, &b, &c); err != nil || a != off || b != off+n-1 || c != size {
		t.Fatalf("Content-Range %q for offset %d length %d of %d", cr, off, n, size)
	}
	// The header reaches readOptions the same way.
	r, _ := http.NewRequest("GET", "http://s3.test/b/k", nil)
	r.Header.Set("Range", v)
	if opts, ranged, err := readOptions(r, nil); err != nil || !ranged || opts.Range == nil || *opts.Range != rg {
		t.Fatalf("readOptions(%q) = %+v, %v, %v", v, opts, ranged, err)
	}
}

// fmtSscanf reads "bytes a-b/c".
func fmtSscanf(s string, a, b, c *int64) (int, error) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, errors.New("no unit")
	}
	ab, cs, _ := strings.Cut(rest, "/")
	as, bs, _ := strings.Cut(ab, "-")
	var err error
	for _, p := range []struct {
		s string
		v *int64
	}{{as, a}, {bs, b}, {cs, c}} {
		if *p.v, err = strconv.ParseInt(p.s, 10, 64); err != nil {
			return 0, err
		}
	}
	return 3, nil
}

func checkCopySourceRange(t *testing.T, v string) {
	rg, err := parseCopySourceRange(v)
	var want *store.Range
	if m := copyRangeGrammar.FindStringSubmatch(v); m != nil {
		first, e1 := strconv.ParseInt(m[1], 10, 64)
		last, e2 := strconv.ParseInt(m[2], 10, 64)
		if e1 == nil && e2 == nil && last >= first {
			want = &store.Range{First: first, Last: last}
		}
	}
	if want == nil {
		var e *Error
		if !errors.As(err, &e) || e.Code != "InvalidArgument" {
			t.Fatalf("parseCopySourceRange(%q) = %+v, %v; want InvalidArgument", v, rg, err)
		}
		return
	}
	if err != nil || rg != *want {
		t.Fatalf("parseCopySourceRange(%q) = %+v, %v; want %+v", v, rg, err, *want)
	}
}
