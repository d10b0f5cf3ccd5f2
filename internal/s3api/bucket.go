package s3api

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"

	"mirrorstore/internal/store"
)

// region is the one region this server answers for. GetBucketLocation
// reports it S3's way for us-east-1: an empty LocationConstraint.
const region = "us-east-1"

// maxConfigBody bounds the small XML bodies of bucket configuration calls.
const maxConfigBody = 64 << 10

func (h *Handler) listBuckets(w http.ResponseWriter, r *http.Request, req *request) error {
	all, err := h.backend.ListBuckets(r.Context())
	if err != nil {
		return err
	}
	root := h.isRoot(req)
	res := listAllMyBucketsResult{
		Xmlns:   s3NS,
		Owner:   ownerOf(req.id.Credential.AccessKey, req.id.Credential.DisplayName),
		Buckets: []bucketWire{},
	}
	for _, b := range all {
		if !root && b.Owner != req.id.Credential.AccessKey {
			continue
		}
		res.Buckets = append(res.Buckets, bucketWire{Name: b.Name, CreationDate: isoTime(b.Created)})
	}
	writeXML(w, http.StatusOK, res)
	return nil
}

func (h *Handler) createBucket(w http.ResponseWriter, r *http.Request, req *request) error {
	// The body is read first: a verifying reader vetoes the request on its
	// last Read, and nothing may be created before that.
	var cfg createBucketConfiguration
	if _, err := readOptionalXML(r.Body, &cfg); err != nil {
		return err
	}
	acl, err := cannedACL(r.Header)
	if err != nil {
		return err
	}
	if r.Header.Get("X-Amz-Bucket-Object-Lock-Enabled") == "true" {
		return errorf("NotImplemented", "Object Lock is not supported by this server.")
	}
	ctx := r.Context()
	if err := h.backend.CreateBucket(ctx, req.bucket, req.id.Credential.AccessKey); err != nil {
		return err
	}
	h.acl.forget(req.bucket)
	if acl == aclPublicRead {
		if err := h.backend.PutBucketConfig(ctx, req.bucket, aclConfig, []byte(acl)); err != nil {
			return err
		}
	}
	w.Header().Set("Location", "/"+req.bucket)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) headBucket(w http.ResponseWriter, r *http.Request, req *request) error {
	if _, err := h.backend.HeadBucket(r.Context(), req.bucket); err != nil {
		return err
	}
	w.Header().Set("X-Amz-Bucket-Region", region)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) deleteBucket(w http.ResponseWriter, r *http.Request, req *request) error {
	if err := h.backend.DeleteBucket(r.Context(), req.bucket); err != nil {
		return err
	}
	h.acl.forget(req.bucket)
	if m := h.ops.metrics; m != nil {
		m.ForgetBucket(req.bucket)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) getBucketLocation(w http.ResponseWriter, r *http.Request, req *request) error {
	if _, err := h.backend.HeadBucket(r.Context(), req.bucket); err != nil {
		return err
	}
	writeXML(w, http.StatusOK, locationConstraint{Xmlns: s3NS})
	return nil
}

func (h *Handler) getBucketVersioning(w http.ResponseWriter, r *http.Request, req *request) error {
	if _, err := h.backend.HeadBucket(r.Context(), req.bucket); err != nil {
		return err
	}
	// A bucket that never had versioning enabled answers with an empty
	// configuration, as S3 does; versioning is not supported here.
	writeXML(w, http.StatusOK, versioningConfiguration{Xmlns: s3NS})
	return nil
}

func (h *Handler) putBucketVersioning(w http.ResponseWriter, r *http.Request, req *request) error {
	var cfg versioningConfiguration
	if err := decodeXML(r.Body, maxConfigBody, &cfg); err != nil {
		return err
	}
	// Versioning is never on here, so no status is accepted: a client
	// that suspends it would believe the bucket had been versioned.
	return errorf("NotImplemented", "Versioning is not supported by this server; buckets stay unversioned (status %q).", cfg.Status)
}

func (h *Handler) getBucketACL(w http.ResponseWriter, r *http.Request, req *request) error {
	ctx := r.Context()
	info, err := h.backend.HeadBucket(ctx, req.bucket)
	if err != nil {
		return err
	}
	acl, err := h.bucketACL(r, req.bucket)
	if err != nil {
		return err
	}
	displayName := ""
	if c, ok := h.lookupCredential(info.Owner); ok {
		displayName = c
	}
	o := ownerOf(info.Owner, displayName)
	policy := accessControlPolicy{
		Xmlns: s3NS,
		Owner: o,
		Grants: []grant{{
			Grantee:    grantee{XMLNSXSI: xsiNS, Type: "CanonicalUser", ID: o.ID, DisplayName: o.DisplayName},
			Permission: "FULL_CONTROL",
		}},
	}
	if acl == aclPublicRead {
		policy.Grants = append(policy.Grants, grant{
			Grantee:    grantee{XMLNSXSI: xsiNS, Type: "Group", URI: allUsersURI},
			Permission: "READ",
		})
	}
	writeXML(w, http.StatusOK, policy)
	return nil
}

func (h *Handler) putBucketACL(w http.ResponseWriter, r *http.Request, req *request) error {
	ctx := r.Context()
	var policy accessControlPolicy
	hasBody, err := readOptionalXML(r.Body, &policy)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == "MalformedXML" {
			e.Code = "MalformedACLError"
		}
		return err
	}
	info, err := h.backend.HeadBucket(ctx, req.bucket)
	if err != nil {
		return err
	}
	acl, err := cannedACL(r.Header)
	if err != nil {
		return err
	}
	if hasBody {
		if r.Header.Get("X-Amz-Acl") != "" {
			return errorf("InvalidRequest", "Specify an ACL either by the x-amz-acl header or by an AccessControlPolicy body, not both.")
		}
		if acl, err = aclFromPolicy(policy, ownerOf(info.Owner, "").ID); err != nil {
			return err
		}
	}
	if err := h.backend.PutBucketConfig(ctx, req.bucket, aclConfig, []byte(acl)); err != nil {
		return err
	}
	h.acl.forget(req.bucket)
	w.WriteHeader(http.StatusOK)
	return nil
}

// bucketACL returns the canned ACL stored for bucket (private when none).
func (h *Handler) bucketACL(r *http.Request, bucket string) (string, error) {
	data, err := h.backend.GetBucketConfig(r.Context(), bucket, aclConfig)
	if errors.Is(err, store.ErrNoSuchConfig) {
		return aclPrivate, nil
	}
	if err != nil {
		return "", err
	}
	return string(data), nil
}

// lookupCredential returns the display name of an access key, if known.
func (h *Handler) lookupCredential(accessKey string) (string, bool) {
	if h.keys == nil {
		return "", false
	}
	c, ok := h.keys.Lookup(accessKey)
	return c.DisplayName, ok
}

// cannedACL reads x-amz-acl. Only private and public-read are supported;
// other canned ACLs and explicit x-amz-grant-* headers are NotImplemented
// rather than silently stored as something weaker or stronger.
func cannedACL(hdr http.Header) (string, error) {
	for name := range hdr {
		if strings.HasPrefix(name, "X-Amz-Grant-") {
			return "", errorf("NotImplemented", "Grant headers (%s) are not supported; use x-amz-acl private or public-read.", name)
		}
	}
	switch v := hdr.Get("X-Amz-Acl"); v {
	case "", aclPrivate:
		return aclPrivate, nil
	case aclPublicRead:
		return aclPublicRead, nil
	case "public-read-write", "authenticated-read", "aws-exec-read", "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write":
		return "", errorf("NotImplemented", "The canned ACL %q is not supported; use private or public-read.", v)
	default:
		return "", errorf("InvalidArgument", "The canned ACL %q is not valid.", v)
	}
}

// aclFromPolicy maps an AccessControlPolicy body onto the canned ACL it
// expresses: the owner's FULL_CONTROL, plus READ for AllUsers for
// public-read. Any other grant is NotImplemented.
func aclFromPolicy(p accessControlPolicy, ownerID string) (string, error) {
	ownerFull, allUsersRead := false, false
	for _, g := range p.Grants {
		switch {
		case g.Grantee.ID != "" && g.Grantee.ID == ownerID && g.Permission == "FULL_CONTROL":
			ownerFull = true
		case g.Grantee.URI == allUsersURI && g.Permission == "READ":
			allUsersRead = true
		default:
			return "", errorf("NotImplemented", "Only the grants of the canned ACLs private and public-read are supported (owner FULL_CONTROL, AllUsers READ).")
		}
	}
	if !ownerFull {
		return "", errorf("NotImplemented", "The bucket owner must keep FULL_CONTROL.")
	}
	if allUsersRead {
		return aclPublicRead, nil
	}
	return aclPrivate, nil
}

// readOptionalXML reads a small body and decodes it into v when it is not
// empty. It reports whether there was a body.
func readOptionalXML(body io.Reader, v any) (bool, error) {
	data, err := io.ReadAll(io.LimitReader(body, maxConfigBody+1))
	if err != nil {
		return false, err
	}
	if len(data) > maxConfigBody {
		return false, errorf("MalformedXML", "The XML body is larger than %d bytes.", maxConfigBody)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return false, nil
	}
	if err := xml.Unmarshal(data, v); err != nil {
		return true, errorf("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema: %v.", err)
	}
	return true, nil
}
