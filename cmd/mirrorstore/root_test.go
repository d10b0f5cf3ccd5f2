package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestFlagsFromEnv(t *testing.T) {
	cmd := newServerCmd()
	if err := cmd.ParseFlags([]string{"--addr", "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"MIRRORSTORE_ADDR":             "127.0.0.1:2", // the flag given wins
		"MIRRORSTORE_DATA":             "/srv/data",
		"MIRRORSTORE_SHUTDOWN_TIMEOUT": "3s",
		"MIRRORSTORE_LOG_FORMAT":       "json",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := flagsFromEnv(cmd.Flags(), lookup); err != nil {
		t.Fatal(err)
	}
	f := cmd.Flags()
	for name, want := range map[string]string{"addr": "127.0.0.1:1", "data": "/srv/data", "shutdown-timeout": (3 * time.Second).String(), "log-format": "json", "tls-cert": ""} {
		if got := f.Lookup(name).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", name, got, want)
		}
	}
	env["MIRRORSTORE_SHUTDOWN_TIMEOUT"] = "soon"
	cmd = newServerCmd()
	if err := flagsFromEnv(cmd.Flags(), lookup); err == nil || !strings.Contains(err.Error(), "MIRRORSTORE_SHUTDOWN_TIMEOUT") {
		t.Fatalf("bad duration: %v", err)
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "mirrorstore ") || !strings.Contains(out.String(), "go1.") {
		t.Fatalf("version output %q", out.String())
	}
}
