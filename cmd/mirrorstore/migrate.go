package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"mirrorstore/internal/migrate"
	"mirrorstore/internal/origin"
)

// errMigrateFailed makes the process exit 1 after the summary said why.
var errMigrateFailed = errors.New("some objects failed to copy")

type migrateFlags struct {
	endpoint, bucket, accessKey, secretKey, region     string
	sourceEndpoint, sourceAccessKey, sourceSecretKey   string
	sourceRegion, keys, state, report, bandwidth, part string
	allowPrivate, overwrite, dryRun                    bool
	concurrency, retries                               int
	rate                                               float64
}

func newMigrateCmd() *cobra.Command {
	var f migrateFlags
	cmd := &cobra.Command{
		Use:   "migrate --endpoint URL --bucket B SOURCE",
		Short: "Copy a folder, an S3 prefix or an HTTP origin's keys into a bucket",
		Long: `Copy every object of SOURCE that the bucket lacks, through the server's S3 API.

SOURCE is a local folder; s3://bucket/prefix of another S3-compatible store
(--source-endpoint, --source-access-key/--source-secret-key or the AWS_*
variables); or an HTTP origin's base URL with --keys FILE (one key a line,
'-' for stdin).

Objects the bucket has are skipped without reading the source; --overwrite
replaces the ones that differ (size or ETag/MD5). New objects are written
with If-None-Match: *, replacements with If-Match, so an object a client
wrote meanwhile is left alone and reported as a conflict. With --state FILE
an interrupted run resumes where it stopped. Exit status 1 when any object
failed.

Every flag can also be set by an environment variable: MIRRORSTORE_ and the
flag's name in capitals with '-' as '_' (MIRRORSTORE_ACCESS_KEY).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMigrate(cmd, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.endpoint, "endpoint", "", "the destination server's URL (required)")
	fl.StringVar(&f.bucket, "bucket", "", "the destination bucket (required)")
	fl.StringVar(&f.accessKey, "access-key", "", "destination access key")
	fl.StringVar(&f.secretKey, "secret-key", "", "destination secret key")
	fl.StringVar(&f.region, "region", "us-east-1", "destination region used for signing")
	fl.StringVar(&f.sourceEndpoint, "source-endpoint", "", "an s3:// source's endpoint URL (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, then AWS)")
	fl.StringVar(&f.sourceAccessKey, "source-access-key", "", "an s3:// source's access key (default AWS_ACCESS_KEY_ID)")
	fl.StringVar(&f.sourceSecretKey, "source-secret-key", "", "an s3:// source's secret key (default AWS_SECRET_ACCESS_KEY)")
	fl.StringVar(&f.sourceRegion, "source-region", "", "an s3:// source's region (default AWS_REGION, then us-east-1)")
	fl.StringVar(&f.keys, "keys", "", "an HTTP source's key list, one key a line; '-' reads stdin")
	fl.BoolVar(&f.allowPrivate, "allow-private", false, "let an HTTP source resolve to loopback or private addresses")
	fl.BoolVar(&f.overwrite, "overwrite", false, "replace objects that differ from the source")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what would be copied and the totals; write nothing")
	fl.IntVar(&f.concurrency, "concurrency", migrate.DefaultConcurrency, "objects copied at once")
	fl.Float64Var(&f.rate, "rate", 0, "at most this many objects started per second (0: no limit)")
	fl.StringVar(&f.bandwidth, "bandwidth", "0", "at most this many source bytes per second, e.g. 50MB or 20MiB (0: no limit)")
	fl.StringVar(&f.part, "part-size", "16MiB", "multipart part size; larger objects go by multipart (at least 5MiB)")
	fl.IntVar(&f.retries, "retries", migrate.DefaultRetries, "further attempts for an object after a 5xx, SlowDown or network error")
	fl.StringVar(&f.state, "state", "", "checkpoint file: completed keys, so a rerun resumes")
	fl.StringVar(&f.report, "report", "", "write conflicts and failures to this file as JSON lines")
	return cmd
}

func runMigrate(cmd *cobra.Command, f migrateFlags, source string) error {
	if f.endpoint == "" || f.bucket == "" {
		return errors.New("migrate needs --endpoint and --bucket")
	}
	if f.accessKey == "" || f.secretKey == "" {
		return errors.New("migrate needs the destination's credentials: --access-key and --secret-key, or MIRRORSTORE_ACCESS_KEY and MIRRORSTORE_SECRET_KEY")
	}
	bandwidth, err := humanize.ParseBytes(f.bandwidth)
	if err != nil {
		return fmt.Errorf("--bandwidth %q: %w", f.bandwidth, err)
	}
	partSize, err := humanize.ParseBytes(f.part)
	if err != nil {
		return fmt.Errorf("--part-size %q: %w", f.part, err)
	}
	retries := f.retries
	if retries == 0 {
		retries = -1 // Config's 0 is the default
	}
	ctx := cmd.Context()
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	cfg := migrate.Config{
		Client:      s3Client(f.endpoint, f.region, f.accessKey, f.secretKey, ""),
		Bucket:      f.bucket,
		Overwrite:   f.overwrite,
		DryRun:      f.dryRun,
		Concurrency: f.concurrency,
		Rate:        f.rate,
		Bandwidth:   int64(bandwidth),
		PartSize:    int64(partSize),
		Retries:     retries,
		StatePath:   f.state,
		Out:         stdout,
		Progress:    stderr,
		Terminal:    isTerminal(stderr),
	}
	switch {
	case strings.HasPrefix(source, "s3://"):
		bucket, prefix, _ := strings.Cut(strings.TrimPrefix(source, "s3://"), "/")
		if bucket == "" {
			return fmt.Errorf("source %q: need s3://bucket/prefix", source)
		}
		ep := firstSet(f.sourceEndpoint, os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL"))
		ak := firstSet(f.sourceAccessKey, os.Getenv("AWS_ACCESS_KEY_ID"))
		sk := firstSet(f.sourceSecretKey, os.Getenv("AWS_SECRET_ACCESS_KEY"))
		token := ""
		if f.sourceAccessKey == "" {
			token = os.Getenv("AWS_SESSION_TOKEN")
		}
		region := firstSet(f.sourceRegion, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1")
		cfg.Source = migrate.NewS3Source(s3Client(ep, region, ak, sk, token), bucket, prefix)
	case strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://"):
		if f.keys == "" {
			return errors.New("an HTTP source needs --keys FILE (one key a line, '-' for stdin)")
		}
		keys, err := readKeyList(cmd.InOrStdin(), f.keys)
		if err != nil {
			return err
		}
		v, _ := buildVersion()
		client := origin.NewClient(origin.Config{AllowPrivate: f.allowPrivate, Version: v, PerHostLimit: max(f.concurrency, origin.DefaultPerHostLimit)})
		defer client.Close()
		src, err := migrate.NewHTTPSource(client, source, keys)
		if err != nil {
			return err
		}
		cfg.Source = src
	default:
		src, err := migrate.NewFolderSource(source)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		cfg.Source = src
	}
	sum, runErr := migrate.Run(ctx, cfg)
	if !f.dryRun {
		migrate.WriteSummary(stdout, sum)
	}
	if f.report != "" {
		if err := writeReport(f.report, sum); err != nil && runErr == nil {
			runErr = err
		}
	}
	if errors.Is(runErr, context.Canceled) {
		if f.state == "" {
			return errors.New("interrupted; a rerun skips what is in the bucket already (--state FILE also skips what was compared)")
		}
		return fmt.Errorf("interrupted; rerun with --state %s to resume", f.state)
	}
	if runErr != nil {
		return runErr
	}
	if sum.Failed > 0 {
		return errMigrateFailed
	}
	return nil
}

// s3Client returns a path-style client; an empty endpoint is AWS's own.
func s3Client(endpoint, region, ak, sk, token string) *s3.Client {
	o := s3.Options{Region: region, UsePathStyle: true}
	if endpoint != "" {
		o.BaseEndpoint = aws.String(endpoint)
	}
	if ak != "" || sk != "" {
		o.Credentials = credentials.NewStaticCredentialsProvider(ak, sk, token)
	}
	return s3.New(o)
}

func readKeyList(stdin io.Reader, name string) ([]string, error) {
	if name == "-" {
		return migrate.ReadKeys(stdin)
	}
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return migrate.ReadKeys(fh)
}

func writeReport(name string, sum migrate.Summary) error {
	fh, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := migrate.WriteReport(fh, sum); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

func firstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func isTerminal(w io.Writer) bool {
	fh, ok := w.(*os.File)
	return ok && term.IsTerminal(int(fh.Fd()))
}
