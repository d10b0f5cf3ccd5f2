package main

import (
	"github.com/spf13/pflag"

	"mirrorstore/internal/server"
	"mirrorstore/internal/store/s3backend"
)

// addBackendFlags adds the --backend flags (SPEC §10); like every flag they
// fall back to MIRRORSTORE_BACKEND_*, and the keys then to the AWS_*
// variables (s3backend.Open).
func addBackendFlags(f *pflag.FlagSet, b *server.BackendConfig) {
	f.StringVar(&b.Kind, "backend", "local", "storage: local (the embedded engine in --data) or s3 (an existing S3-compatible cluster; the root credential must then come from MIRRORSTORE_ACCESS_KEY/SECRET_KEY)")
	f.StringVar(&b.S3.Endpoint, "backend-endpoint", "", "with --backend s3: the cluster's URL (path-style requests)")
	f.StringVar(&b.S3.Bucket, "backend-bucket", "", "with --backend s3: the existing bucket that holds everything")
	f.StringVar(&b.S3.AccessKey, "backend-access-key", "", "with --backend s3: access key (default AWS_ACCESS_KEY_ID)")
	f.StringVar(&b.S3.SecretKey, "backend-secret-key", "", "with --backend s3: secret key (default AWS_SECRET_ACCESS_KEY)")
	f.StringVar(&b.S3.Region, "backend-region", "us-east-1", "with --backend s3: region to sign for")
	f.DurationVar(&b.S3.Timeout, "backend-timeout", s3backend.DefaultTimeout, "with --backend s3: longest wait on the cluster (to connect, for each write of a request, for an answer's headers, between body reads); past it clients get 503 ServiceUnavailable")
}
