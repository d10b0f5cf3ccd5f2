package mirror

import (
	"net/http"

	"mirrorstore/internal/origin"
	"mirrorstore/internal/rules"
)

// SpecFor builds the Spec of a fill of bucket/key for the client request r
// that matched the Mirror action a: origin URLs composed from the rule (with
// r's query string when the rule passes it), the origin request's headers
// from the rule's MirrorHeaders applied to r's headers, and the rule's flags.
// It returns rules.ErrKeyNotAllowedToOrigin (424 "key not allowed to origin")
// for a key with "." or ".." segments. a must be a Mirror action.
func SpecFor(bucket, key string, a *rules.Action, r *http.Request) (Spec, error) {
	primary, slave, err := a.OriginURLs(key, r.URL.RawQuery)
	if err != nil {
		return Spec{}, err
	}
	m := a.Mirror
	urls := []string{primary}
	if slave != "" {
		urls = append(urls, slave)
	}
	policy := origin.HeaderPolicy{PassAll: m.PassAllHeaders, Pass: m.PassHeaders, Remove: m.RemoveHeaders}
	for _, s := range m.SetHeaders {
		policy.Set = append(policy.Set, origin.HeaderValue{Key: s.Key, Value: s.Value})
	}
	return Spec{
		Bucket:                bucket,
		Key:                   key,
		URLs:                  urls,
		Header:                policy.Build(r.Header),
		SNI:                   m.SNI,
		FollowRedirect:        m.FollowRedirect,
		CheckMD5:              m.CheckMD5,
		SaveMeta:              m.SaveOssMeta,
		UseOriginLastModified: m.UseOriginLastModified,
		SwitchAllErrors:       m.SwitchAllErrors,
		TransparentCodes:      m.TransparentCodes,
	}, nil
}
