package mirror

import "time"

// Result is how a fill (or a request that joined one) ended, the label of
// mirrorstore_mirror_fills_total.
type Result string

// Results.
const (
	// ResultStored: the body was whole and verified, and the key is stored
	// (by this fill, or by a client PUT that landed during it).
	ResultStored Result = "stored"
	// ResultOrigin404: the origin answered 404.
	ResultOrigin404 Result = "origin_404"
	// ResultFailed: anything else that stored nothing (bad answer, broken or
	// unverified body, redirect not followed, transparent answer, commit
	// failure).
	ResultFailed Result = "failed"
	// ResultRefused: the origin's address was refused by the guard.
	ResultRefused Result = "refused"
	// ResultCoalesced: an Open joined a fill already in flight.
	ResultCoalesced Result = "coalesced"
)

// Metrics receives the mirror's measurements. Implementations must be safe
// for concurrent use and must not block.
type Metrics interface {
	// FillResult counts a fill's end, or an Open that joined one.
	FillResult(Result)
	// FillsInFlight moves the gauge of fills in flight by delta (±1).
	FillsInFlight(delta int)
	// TimeToFirstByte is the time from a fill's start to the headers of the
	// origin answer it used.
	TimeToFirstByte(time.Duration)
	// BytesMirrored counts body bytes read from origins.
	BytesMirrored(n int64)
}

// NopMetrics discards everything.
type NopMetrics struct{}

func (NopMetrics) FillResult(Result)             {}
func (NopMetrics) FillsInFlight(int)             {}
func (NopMetrics) TimeToFirstByte(time.Duration) {}
func (NopMetrics) BytesMirrored(int64)           {}
