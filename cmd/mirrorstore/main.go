// Command mirrorstore is an S3-compatible object storage server whose
// buckets can fill misses from an origin site.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "mirrorstore:", err)
		stop()
		os.Exit(1)
	}
}
