package s3api

import (
	"errors"
	"io"
	"net/http"

	"mirrorstore/internal/auth"
	"mirrorstore/internal/store"
)

// Bucket policy (?policy): the owner puts a JSON document, which is
// validated and compiled by auth.ParsePolicy and stored verbatim as the
// "policy" configuration blob; access decisions read it through the same
// cache as the canned ACL (access.go).

func (h *Handler) putBucketPolicy(w http.ResponseWriter, r *http.Request, req *request) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, auth.MaxPolicySize+1))
	if err != nil {
		return err
	}
	if len(data) > auth.MaxPolicySize {
		return errorf("PolicyTooLarge", "Policies must be at most %d bytes.", auth.MaxPolicySize)
	}
	ctx := r.Context()
	if _, err := h.backend.HeadBucket(ctx, req.bucket); err != nil {
		return err
	}
	if _, err := auth.ParsePolicy(req.bucket, data); err != nil {
		var pe *auth.PolicyError
		if errors.As(err, &pe) {
			return errorf("MalformedPolicy", "%s.", pe.Message)
		}
		return err
	}
	if err := h.backend.PutBucketConfig(ctx, req.bucket, policyConfig, data); err != nil {
		return err
	}
	h.acl.forget(req.bucket)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) getBucketPolicy(w http.ResponseWriter, r *http.Request, req *request) error {
	data, err := h.backend.GetBucketConfig(r.Context(), req.bucket, policyConfig)
	if errors.Is(err, store.ErrNoSuchConfig) {
		return errCode("NoSuchBucketPolicy")
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	return nil
}

func (h *Handler) deleteBucketPolicy(w http.ResponseWriter, r *http.Request, req *request) error {
	// Deleting a policy that is not there succeeds, as on S3.
	err := h.backend.PutBucketConfig(r.Context(), req.bucket, policyConfig, nil)
	if err != nil && !errors.Is(err, store.ErrNoSuchConfig) {
		return err
	}
	h.acl.forget(req.bucket)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
