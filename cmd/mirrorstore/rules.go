package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/spf13/cobra"

	"mirrorstore/internal/rules"
)

func newRulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Check a website configuration, or explain what a bucket's rules do with a request",
	}
	cmd.AddCommand(newRulesLintCmd(), newRulesExplainCmd())
	return cmd
}

func newRulesLintCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "lint FILE",
		Short: "Validate a WebsiteConfiguration XML offline with the server's own validator",
		Long: `lint validates FILE ("-" reads standard input) exactly as PUT ?website
would, prints the error the server would answer, or the warnings about rules
that are legal but probably not meant. It exits 1 when the server would
refuse the configuration; warnings alone do not fail it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readConfigFile(cmd, args[0])
			if err != nil {
				return err
			}
			warnings, err := rules.Lint(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			out := cmd.OutOrStdout()
			for _, w := range warnings {
				fmt.Fprintf(out, "%s: warning: %s\n", args[0], w)
			}
			fmt.Fprintf(out, "%s: valid, %d warning(s)\n", args[0], len(warnings))
			return nil
		},
	}
}

// readConfigFile reads at most one byte past rules.MaxBodySize, as the
// server does, so lint refuses an oversized file with the server's message.
func readConfigFile(cmd *cobra.Command, name string) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = cmd.InOrStdin()
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	return io.ReadAll(io.LimitReader(r, rules.MaxBodySize+1))
}

type explainFlags struct {
	endpoint, bucket     string
	accessKey, secretKey string
	region               string
	status               int
	headers              []string
	head                 bool
	timeout              time.Duration
}

func newRulesExplainCmd() *cobra.Command {
	var f explainFlags
	cmd := &cobra.Command{
		Use:   "explain --endpoint URL --bucket B KEY",
		Short: "Print which rule a GET of KEY matches and the Location or origin URL it produces",
		Long: `explain reads the bucket's website configuration from the server
(GET ?website, signed with the given credential) and prints which routing
rule a GET (or, with --head, a HEAD) of KEY would match and the redirect
Location or origin URL it would produce. Nothing is fetched from an origin,
and the object is not looked up: --status says what the lookup is taken to
return (404 by default, 200 for an object that exists, 500 for a store
failure).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExplain(cmd, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.endpoint, "endpoint", "", "the server's URL, e.g. http://localhost:9000")
	fl.StringVar(&f.bucket, "bucket", "", "the bucket whose rules to explain")
	fl.StringVar(&f.accessKey, "access-key", "", "access key of the bucket's owner (or root)")
	fl.StringVar(&f.secretKey, "secret-key", "", "secret key of the bucket's owner (or root)")
	fl.StringVar(&f.region, "region", "us-east-1", "region named in the signature (the server accepts any)")
	fl.IntVar(&f.status, "status", http.StatusNotFound, "what looking KEY up returns: 404 (missing), 200 (exists) or 500 (store failure)")
	fl.StringArrayVar(&f.headers, "header", nil, "a request header as Name:Value (repeatable)")
	fl.BoolVar(&f.head, "head", false, "explain a HEAD instead of a GET")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for the server")
	_ = cmd.MarkFlagRequired("endpoint")
	_ = cmd.MarkFlagRequired("bucket")
	return cmd
}

func runExplain(cmd *cobra.Command, f explainFlags, key string) error {
	switch f.status {
	case http.StatusOK, http.StatusNotFound, http.StatusInternalServerError:
	default:
		return fmt.Errorf("--status %d: use 200, 404 or 500", f.status)
	}
	hdr := http.Header{}
	for _, h := range f.headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return fmt.Errorf("--header %q: want Name:Value", h)
		}
		hdr.Add(textproto.CanonicalMIMEHeaderKey(name), strings.TrimSpace(value))
	}
	ep, err := url.Parse(f.endpoint)
	if err != nil || (ep.Scheme != "http" && ep.Scheme != "https") || ep.Host == "" {
		return fmt.Errorf("--endpoint %q: want http://host[:port] or https://host[:port]", f.endpoint)
	}
	if f.accessKey == "" || f.secretKey == "" {
		return errors.New("explain needs the bucket owner's credential: --access-key and --secret-key (or MIRRORSTORE_ACCESS_KEY and MIRRORSTORE_SECRET_KEY)")
	}

	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	defer cancel()
	data, err := fetchWebsite(ctx, ep, f)
	if err != nil {
		return err
	}
	cfg, err := rules.Parse(data)
	if err != nil {
		return fmt.Errorf("the server's website configuration of %s does not parse here (is this binary older than the server?): %w", f.bucket, err)
	}
	// The request explained is path-style on the same endpoint, as a
	// client of this server would send it.
	e := rules.Explain(cfg, rules.ExplainRequest{
		Key:    key,
		Status: f.status,
		Header: hdr,
		Head:   f.head,
		Target: rules.Target{Scheme: ep.Scheme, Host: ep.Host, Bucket: f.bucket},
	})
	fmt.Fprintln(cmd.OutOrStdout(), e.String())
	return nil
}

// emptySHA256 is the payload hash of a request without a body.
var emptySHA256 = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

// fetchWebsite reads GET ?website as the server stores it. The SDK's
// GetBucketWebsite would decode it into S3's subset and lose the OSS
// fields (Mirror rules above all), so the request is a raw GET signed with
// the SDK's SigV4 signer.
func fetchWebsite(ctx context.Context, ep *url.URL, f explainFlags) ([]byte, error) {
	u := *ep
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + f.bucket
	u.RawPath = ""
	u.RawQuery = "website="
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	creds := aws.Credentials{AccessKeyID: f.accessKey, SecretAccessKey: f.secretKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptySHA256, "s3", f.region, time.Now()); err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// A stored configuration is at most MaxBodySize; the rest would be
	// someone else's answer.
	body, err := io.ReadAll(io.LimitReader(resp.Body, rules.MaxBodySize+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Code, Message string }
		if xml.Unmarshal(body, &e) == nil && e.Code != "" {
			return nil, fmt.Errorf("GET %s?website: %d %s: %s", f.bucket, resp.StatusCode, e.Code, e.Message)
		}
		return nil, fmt.Errorf("GET %s?website: %s", f.bucket, resp.Status)
	}
	return body, nil
}
