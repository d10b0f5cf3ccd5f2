package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3Options configure the s3 suite.
type s3Options struct {
	duration      time.Duration // each timed run (SDK load and wrk)
	conns         int           // clients for small objects
	bigConns      int           // clients for large objects
	wrkThreads    int
	smallSize     int
	largeSize     int
	deleteMax     int           // DELETE at most this many of the small objects PUT
	listKeys      int           // keys in the listed bucket
	listPage      int           // keys a ListObjectsV2 page
	listWithin    time.Duration // longest walk of the listed bucket per server
	populateConns int           // clients filling the listed bucket
}

// s3Server is one S3 endpoint under measurement in the s3 suite.
type s3Server struct {
	name   string
	pid    int
	client *s3.Client
	// listBucket and listPrefix are where its listing is measured.
	listBucket, listPrefix string
}

// figure is one server's result for one measure.
type figure struct {
	load loadResult
	list listResult
	kib  int64 // RSS
	wrk  wrkResult
	size int // object size for wrk MB/s
}

const (
	nameMS    = "mirrorstore"
	nameMinio = "minio"
	nameNode  = "node over minio"
	nameFS    = "http.FileServer"
	nameNgx   = "nginx"
	// backendBucket is the MinIO bucket the node keeps everything in; a
	// node bucket B is the prefix b/B/ in it (store/s3backend's layout).
	backendBucket = "backend"
	publicBucket  = "public"
	listBucket    = "list"
)

// s3Suite runs mirrorstore (embedded engine), MinIO (single node, single
// drive) and mirrorstore --backend s3 over that MinIO, all with their data
// in the same work folder, through the same SDK load generator, plus wrk's
// anonymous GETs beside http.FileServer and nginx, and prints the figures
// and the ratios against the targets of issues #11 and #8.
func s3Suite(work string, opt s3Options, out io.Writer) error {
	ctx := context.Background()
	loadBefore := loadAverage()
	small, large := make([]byte, opt.smallSize), make([]byte, opt.largeSize)
	rand.Read(small)
	rand.Read(large)

	ms, err := startMirrorstore(work)
	if err != nil {
		return err
	}
	defer ms.stop()
	mn, err := startMinio(work)
	if err != nil {
		return err
	}
	defer mn.stop()
	mnClient := loadClient(mn.endpoint, max(opt.conns, opt.populateConns))
	if err := waitS3(ctx, mnClient); err != nil {
		return fmt.Errorf("minio: %w", err)
	}
	if _, err := mnClient.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(backendBucket)}); err != nil {
		return fmt.Errorf("minio: create bucket %s: %w", backendBucket, err)
	}
	node, err := startNode(work, mn.endpoint)
	if err != nil {
		return err
	}
	defer node.stop()

	conns := max(opt.conns, opt.populateConns)
	servers := []*s3Server{
		{name: nameMS, pid: ms.pid, client: loadClient(strings.TrimSuffix(ms.base, "/"+benchBucket), conns), listBucket: listBucket},
		// MinIO's listed keys are those of the node's listed bucket.
		{name: nameMinio, pid: mn.pid, client: mnClient, listBucket: backendBucket, listPrefix: "b/" + listBucket + "/"},
		{name: nameNode, pid: node.pid, client: loadClient(strings.TrimSuffix(node.base, "/"+benchBucket), conns), listBucket: listBucket},
	}
	for _, s := range servers {
		if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(benchBucket)}); err != nil {
			return fmt.Errorf("%s: create bucket: %w", s.name, err)
		}
	}
	byName := map[string]*s3Server{}
	for _, s := range servers {
		byName[s.name] = s
	}

	figs := map[string]map[string]figure{}
	record := func(measure, server string, f figure) {
		if figs[measure] == nil {
			figs[measure] = map[string]figure{}
		}
		figs[measure][server] = f
	}
	sizeS, sizeL := sizeLabel(opt.smallSize), sizeLabel(opt.largeSize)
	mPutS, mGetS, mDelS := "PUT "+sizeS, "GET "+sizeS+" signed", "DELETE "+sizeS
	mPutL, mGetL := "PUT "+sizeL, "GET "+sizeL+" signed"
	mAnonS, mAnonL := "GET "+sizeS+" anonymous (wrk)", "GET "+sizeL+" anonymous (wrk)"
	mList := fmt.Sprintf("ListObjectsV2, %d keys a page, %d keys", opt.listPage, opt.listKeys)
	mRSS := "RSS after the run"

	// run measures one load against every server, the servers taking
	// turns at going first (the first writer meets a disk with no dirty
	// pages waiting); before each run every dirty page is written out.
	turn := 0
	run := func(measure string, clients int, spec func(s *s3Server) loadSpec) error {
		turn++
		for k := range servers {
			s := servers[(k+turn)%len(servers)]
			syscall.Sync()
			sp := spec(s)
			sp.clients = clients
			r, err := runLoad(ctx, sp)
			if err != nil {
				return fmt.Errorf("%s on %s: %w", measure, s.name, err)
			}
			record(measure, s.name, figure{load: r})
			fmt.Fprintf(os.Stderr, "%s, %s: %d ops, %.0f ops/s, %.1f MB/s, p50 %s, p99 %s\n",
				measure, s.name, r.ops, r.opsPerSec(), r.mbPerSec(), fmtDur(r.pct(50)), fmtDur(r.pct(99)))
		}
		return nil
	}
	smallKey := func(i int) string { return fmt.Sprintf("small/%08d", i) }
	largeKey := func(i int) string { return fmt.Sprintf("large/%04d", i) }

	// Small objects: PUT for the duration, GET what was PUT, DELETE it.
	if err := run(mPutS, opt.conns, func(s *s3Server) loadSpec {
		return loadSpec{duration: opt.duration, op: putOp(s.client, benchBucket, smallKey, small)}
	}); err != nil {
		return err
	}
	for _, s := range servers {
		if figs[mPutS][s.name].load.ops == 0 {
			return fmt.Errorf("%s: no %s object was PUT in %s", s.name, sizeS, opt.duration)
		}
	}
	if err := run(mGetS, opt.conns, func(s *s3Server) loadSpec {
		n := figs[mPutS][s.name].load.ops
		return loadSpec{duration: opt.duration, op: getOp(s.client, benchBucket, func(i int) string { return smallKey(i % n) }, small, opt.conns)}
	}); err != nil {
		return err
	}
	if err := run(mDelS, opt.conns, func(s *s3Server) loadSpec {
		return loadSpec{count: min(figs[mPutS][s.name].load.ops, opt.deleteMax), op: deleteOp(s.client, benchBucket, smallKey)}
	}); err != nil {
		return err
	}

	// Large objects: PUT for the duration, GET what was PUT, then remove.
	if err := run(mPutL, opt.bigConns, func(s *s3Server) loadSpec {
		return loadSpec{duration: opt.duration, op: putOp(s.client, benchBucket, largeKey, large)}
	}); err != nil {
		return err
	}
	for _, s := range servers {
		if figs[mPutL][s.name].load.ops == 0 {
			return fmt.Errorf("%s: no %s object was PUT in %s", s.name, sizeL, opt.duration)
		}
	}
	if err := run(mGetL, opt.bigConns, func(s *s3Server) loadSpec {
		n := figs[mPutL][s.name].load.ops
		return loadSpec{duration: opt.duration, op: getOp(s.client, benchBucket, func(i int) string { return largeKey(i % n) }, large, opt.bigConns)}
	}); err != nil {
		return err
	}
	for _, s := range servers {
		if _, err := runLoad(ctx, loadSpec{clients: opt.bigConns, count: figs[mPutL][s.name].load.ops, op: deleteOp(s.client, benchBucket, largeKey)}); err != nil {
			return fmt.Errorf("%s: removing the large objects: %w", s.name, err)
		}
	}

	// Anonymous GETs with wrk: the same two files from mirrorstore and
	// MinIO (a bucket whose policy lets anyone read), http.FileServer and
	// nginx.
	dir := filepath.Join(work, "files")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := []struct {
		measure, name string
		body          []byte
		conns         int
	}{{mAnonS, "small.bin", small, opt.conns}, {mAnonL, "large.bin", large, opt.bigConns}}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.body, 0o644); err != nil {
			return err
		}
	}
	anon := []*peer{
		{name: nameMS, base: strings.TrimSuffix(ms.base, benchBucket) + publicBucket},
		{name: nameMinio, base: mn.endpoint + "/" + publicBucket},
	}
	for _, p := range anon {
		c := byName[p.name].client
		if err := publicBucketWith(ctx, c, map[string][]byte{"small.bin": small, "large.bin": large}); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	ngx, err := startNginx(work, dir, nginxOptions{})
	if err != nil {
		return err
	}
	defer ngx.stop()
	fs, err := startFileServer(dir)
	if err != nil {
		return err
	}
	defer fs.stop()
	anon = append(anon, fs, ngx)
	// As the SDK runs: every dirty page is written out before each run
	// (the 64 MiB PUTs left gigabytes, which the kernel would otherwise
	// write back during whichever run came first), and the peers take
	// turns at going first.
	for i, f := range files {
		for k := range anon {
			p := anon[(k+i)%len(anon)]
			syscall.Sync()
			r, err := runWrk(p.base+"/"+f.name, opt.wrkThreads, f.conns, opt.duration)
			if err != nil {
				return fmt.Errorf("%s %s: %w", p.name, f.name, err)
			}
			record(f.measure, p.name, figure{wrk: r, size: len(f.body)})
			fmt.Fprintf(os.Stderr, "%s, %s: %.0f req/s, p50 %s, p99 %s\n", f.measure, p.name, r.reqPerSec, r.p50, r.p99)
		}
	}

	// The listed bucket, filled through mirrorstore and into MinIO at
	// the same time. MinIO's keys go straight under the node's prefix for
	// that bucket: MinIO lists them directly and the node lists them as
	// its bucket, and a million PUTs through the node as well would
	// double the longest step of the run.
	if _, err := byName[nameNode].client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(listBucket)}); err != nil {
		return fmt.Errorf("%s: create bucket %s: %w", nameNode, listBucket, err)
	}
	if _, err := byName[nameMS].client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(listBucket)}); err != nil {
		return fmt.Errorf("%s: create bucket %s: %w", nameMS, listBucket, err)
	}
	var wg sync.WaitGroup
	fills := []*s3Server{byName[nameMS], byName[nameMinio]}
	errs := make([]error, len(fills))
	for k, s := range fills {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = populate(ctx, s, opt)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for _, s := range servers {
		l, err := measureList(ctx, s, opt, mList)
		if err != nil {
			return err
		}
		record(mList, s.name, figure{list: l})
	}

	for _, s := range servers {
		kib, err := procStatusKiB(s.pid, "VmRSS")
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		record(mRSS, s.name, figure{kib: kib})
	}

	// The report.
	fmt.Fprintf(out, "# s3 suite: %s\n", machine())
	fmt.Fprintf(out, "# 1-minute load average: %s at the start, %s at the end (one well above the core count means other work shared the cores)\n", loadBefore, loadAverage())
	fmt.Fprintf(out, "# SDK load: aws-sdk-go-v2, signed (SigV4, payload SHA-256), %d clients for %s, %d for %s, %s a run; DELETE: %s objects PUT, at most %d; wrk -t%d, same conns and duration\n",
		opt.conns, sizeS, opt.bigConns, sizeL, opt.duration, sizeS, opt.deleteMax, opt.wrkThreads)
	fmt.Fprintf(out, "# servers: mirrorstore (embedded engine), minio (single node, single drive), node over minio (mirrorstore --backend s3 on that MinIO); data of all under %s\n\n", work)
	fmt.Fprintln(out, "| measure | server | ops | objects/s | MB/s | p50 | p99 |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|")
	for _, m := range []string{mPutS, mGetS, mDelS, mPutL, mGetL} {
		for _, s := range servers {
			r := figs[m][s.name].load
			fmt.Fprintf(out, "| %s | %s | %d | %.0f | %.1f | %s | %s |\n", m, s.name, r.ops, r.opsPerSec(), r.mbPerSec(), fmtDur(r.pct(50)), fmtDur(r.pct(99)))
		}
	}
	for _, m := range []string{mAnonS, mAnonL} {
		for _, p := range anon {
			f := figs[m][p.name]
			fmt.Fprintf(out, "| %s | %s | — | %.0f | %.1f | %s | %s |\n", m, p.name, f.wrk.reqPerSec, f.wrk.reqPerSec*float64(f.size)/1e6, f.wrk.p50, f.wrk.p99)
		}
	}
	for _, s := range servers {
		l := figs[mList][s.name].list
		walk := "whole bucket"
		if !l.whole {
			walk = fmt.Sprintf("first %d keys (walk capped at %s)", l.keys, opt.listWithin)
		}
		fmt.Fprintf(out, "| %s | %s | %d pages, %s | %.0f pages/s | — | %s | %s |\n", mList, s.name, len(l.pages), walk, float64(len(l.pages))/sumDur(l.pages).Seconds(), fmtDur(l.median()), fmtDur(l.p99()))
	}
	for _, s := range servers {
		fmt.Fprintf(out, "| %s | %s | — | — | %.1f MiB | — | — |\n", mRSS, s.name, float64(figs[mRSS][s.name].kib)/1024)
	}

	ops := func(m, s string) float64 { return figs[m][s].load.opsPerSec() }
	mbs := func(m, s string) float64 { return figs[m][s].load.mbPerSec() }
	wrk := func(m, s string) float64 { return figs[m][s].wrk.reqPerSec }
	listMed := func(s string) time.Duration { return figs[mList][s].list.median() }
	rss := func(s string) float64 { return float64(figs[mRSS][s].kib) / 1024 }
	verdicts := []verdict{
		{mPutS + ", objects/s", nameMS, ops(mPutS, nameMS), nameMinio, ops(mPutS, nameMinio), "%.0f", false, 1.5},
		{mGetS + ", objects/s", nameMS, ops(mGetS, nameMS), nameMinio, ops(mGetS, nameMinio), "%.0f", false, 1.5},
		{mAnonS + ", req/s", nameMS, wrk(mAnonS, nameMS), nameFS, wrk(mAnonS, nameFS), "%.0f", false, 1.0},
		{mAnonS + ", req/s", nameMS, wrk(mAnonS, nameMS), nameMinio, wrk(mAnonS, nameMinio), "%.0f", false, 5},
		{mAnonS + ", req/s", nameMS, wrk(mAnonS, nameMS), nameNgx, wrk(mAnonS, nameNgx), "%.0f", false, 0},
		{mAnonL + ", MB/s", nameMS, wrk(mAnonL, nameMS) * float64(opt.largeSize) / 1e6, nameNgx, wrk(mAnonL, nameNgx) * float64(opt.largeSize) / 1e6, "%.1f", false, 1.0},
		{mGetL + ", MB/s", nameMS, mbs(mGetL, nameMS), nameMinio, mbs(mGetL, nameMinio), "%.1f", false, 1.0},
		{mPutL + ", MB/s", nameMS, mbs(mPutL, nameMS), nameMinio, mbs(mPutL, nameMinio), "%.1f", false, 1.0},
		{mList + ", median ms a page", nameMS, millis(listMed(nameMS)), "", 10, "%.2f", true, 1.0},
		{mList + ", median ms a page", nameMS, millis(listMed(nameMS)), nameMinio, millis(listMed(nameMinio)), "%.2f", true, 2},
		{mDelS + ", objects/s", nameMS, ops(mDelS, nameMS), nameMinio, ops(mDelS, nameMinio), "%.0f", false, 1.5},
		{mRSS + ", MiB", nameMS, rss(nameMS), nameMinio, rss(nameMinio), "%.1f", true, 1.0},
	}
	fmt.Fprintln(out, "\nTargets of issue #11 (ratio: mirrorstore's advantage, so ≥ target is met; for times and memory it is the other ÷ mirrorstore):")
	fmt.Fprintln(out)
	printVerdicts(out, verdicts)

	scale := []verdict{
		{mPutS + ", objects/s", nameNode, ops(mPutS, nameNode), nameMinio, ops(mPutS, nameMinio), "%.0f", false, 0.85},
		{mGetS + ", objects/s", nameNode, ops(mGetS, nameNode), nameMinio, ops(mGetS, nameMinio), "%.0f", false, 0.85},
		{mPutL + ", MB/s", nameNode, mbs(mPutL, nameNode), nameMinio, mbs(mPutL, nameMinio), "%.1f", false, 0.85},
		{mGetL + ", MB/s", nameNode, mbs(mGetL, nameNode), nameMinio, mbs(mGetL, nameMinio), "%.1f", false, 0.85},
	}
	fmt.Fprintln(out, "\nScale-out overhead of issue #8 (node over MinIO ÷ MinIO direct, same run):")
	fmt.Fprintln(out)
	printVerdicts(out, scale)
	return nil
}

// verdict is one target: server's value against anchor's.
type verdict struct {
	measure     string
	server      string
	value       float64
	anchor      string // "" when the target is the absolute limit anchorValue
	anchorValue float64
	format      string
	lowerIsBest bool    // times and memory: the ratio is anchor ÷ value
	target      float64 // the ratio asked for; 0 prints the ratio alone
}

func (v verdict) ratio() float64 {
	if v.lowerIsBest {
		return v.anchorValue / v.value
	}
	return v.value / v.anchorValue
}

func printVerdicts(out io.Writer, vs []verdict) {
	fmt.Fprintln(out, "| measure | server | value | anchor | anchor's value | ratio | target | met? |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|")
	for _, v := range vs {
		val, av := fmt.Sprintf(v.format, v.value), fmt.Sprintf(v.format, v.anchorValue)
		if v.anchor == "" {
			met := "**no**"
			if v.value <= v.anchorValue {
				met = "yes"
			}
			fmt.Fprintf(out, "| %s | %s | %s | (limit) | %s | — | ≤ %s | %s |\n", v.measure, v.server, val, av, av, met)
			continue
		}
		target, met := "printed", "—"
		if v.target > 0 {
			target, met = fmt.Sprintf("≥ %.2f×", v.target), "**no**"
			if v.ratio() >= v.target {
				met = "yes"
			}
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %.2f× | %s | %s |\n", v.measure, v.server, val, v.anchor, av, v.ratio(), target, met)
	}
}

// populate fills s's listed bucket (under its prefix) with opt.listKeys
// empty objects, keys p0000/k0000000 … in folders of 1,000, and reports
// how long it took: in a full run, the longest step.
func populate(ctx context.Context, s *s3Server, opt s3Options) error {
	start := time.Now()
	key := func(i int) string { return fmt.Sprintf("%sp%04d/k%07d", s.listPrefix, i/1000, i) }
	put := putOp(s.client, s.listBucket, key, nil)
	var done atomic.Int64
	stop := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				n := done.Load()
				fmt.Fprintf(os.Stderr, "filling %s/%s on %s: %d of %d keys, %.0f objects/s\n", s.listBucket, s.listPrefix, s.name, n, opt.listKeys, float64(n)/time.Since(start).Seconds())
			}
		}
	}()
	r, err := runLoad(ctx, loadSpec{clients: opt.populateConns, count: opt.listKeys, op: func(ctx context.Context, w, i int) (int64, error) {
		n, err := put(ctx, w, i)
		done.Add(1)
		return n, err
	}})
	close(stop)
	<-ticked
	if err != nil {
		return fmt.Errorf("%s: filling %s: %w", s.name, s.listBucket, err)
	}
	fmt.Fprintf(os.Stderr, "filled %s/%s on %s with %d keys in %s (%.0f objects/s)\n", s.listBucket, s.listPrefix, s.name, r.ops, time.Since(start).Round(time.Second), r.opsPerSec())
	return nil
}

// measureList walks s's listed bucket, after one unmeasured page (the walk
// measures listing, not a cold connection), and checks that a whole walk
// found every key stored.
func measureList(ctx context.Context, s *s3Server, opt s3Options, measure string) (listResult, error) {
	if _, err := listWalk(ctx, s.client, s.listBucket, s.listPrefix, 1, time.Nanosecond); err != nil {
		return listResult{}, fmt.Errorf("%s: %w", s.name, err)
	}
	l, err := listWalk(ctx, s.client, s.listBucket, s.listPrefix, opt.listPage, opt.listWithin)
	if err != nil {
		return l, fmt.Errorf("%s: %w", s.name, err)
	}
	if l.whole && l.keys != opt.listKeys {
		return l, fmt.Errorf("%s: listed %d keys, %d were stored", s.name, l.keys, opt.listKeys)
	}
	fmt.Fprintf(os.Stderr, "%s, %s: %d pages, %d keys, median %s, p99 %s\n", measure, s.name, len(l.pages), l.keys, fmtDur(l.median()), fmtDur(l.p99()))
	return l, nil
}

// waitS3 waits until c's server answers ListBuckets: MinIO's health URL
// answers 200 a moment before its object layer takes requests.
func waitS3(ctx context.Context, c *s3.Client) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not answering ListBuckets after 30s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// publicBucketWith creates the public bucket, lets anyone read its objects
// by a bucket policy (what MinIO and mirrorstore both accept) and stores
// the objects.
func publicBucketWith(ctx context.Context, c *s3.Client, objects map[string][]byte) error {
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(publicBucket)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", publicBucket, err)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::` + publicBucket + `/*"]}]}`
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(publicBucket), Policy: aws.String(policy)}); err != nil {
		return fmt.Errorf("put bucket policy: %w", err)
	}
	for k, b := range objects {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(publicBucket), Key: aws.String(k), Body: bytes.NewReader(b)}); err != nil {
			return fmt.Errorf("put %s: %w", k, err)
		}
	}
	return nil
}

func sizeLabel(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0fµs", float64(d)/1e3)
}

func millis(d time.Duration) float64 { return float64(d) / 1e6 }

func sumDur(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}

// loadAverage is the machine's 1-minute load average: figures taken while
// other work runs on the same cores are not a quiet machine's.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// machine describes where the figures come from.
func machine() string {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kib int64
		fmt.Sscanf(string(b), "MemTotal: %d kB", &kib)
		mem = fmt.Sprintf("%.0f GiB RAM", float64(kib)/(1<<20))
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	// A MinIO built by go install reports a development version; the
	// module version in the binary names the source.
	minio := "?"
	if bin, err := minioBinary(); err == nil {
		if b, err := exec.Command("go", "version", "-m", bin).Output(); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if f := strings.Fields(l); len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/minio/minio" {
					minio = f[2]
				}
			}
		}
	}
	return fmt.Sprintf("%d cores (%s), %s, Linux %s, %s; MinIO %s", runtime.NumCPU(), cpu, mem, strings.TrimSpace(string(kernel)), runtime.Version(), minio)
}
