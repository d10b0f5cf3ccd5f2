package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mirrorstore/internal/auth"
)

func TestLoadUsers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := []auth.Credential{
		{AccessKey: "ALICE", SecretKey: "alice-secret", DisplayName: "Alice"},
		{AccessKey: "BOB", SecretKey: "bob-secret"},
	}
	for _, tt := range []struct{ name, content string }{
		{"users.json", `[{"accessKey":"ALICE","secretKey":"alice-secret","displayName":"Alice"},{"accessKey":"BOB","secretKey":"bob-secret"}]`},
		{"users.yaml", "- accessKey: ALICE\n  secretKey: alice-secret\n  displayName: Alice\n- accessKey: BOB\n  secretKey: bob-secret\n"},
		{"users.YML", "[{accessKey: ALICE, secretKey: alice-secret, displayName: Alice}, {accessKey: BOB, secretKey: bob-secret}]\n"},
	} {
		got, err := loadUsers(write(tt.name, tt.content), "ROOT")
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("%s: got %+v", tt.name, got)
		}
	}

	for _, tt := range []struct{ name, content, want string }{
		{"bad.json", `{"accessKey":"A"}`, "cannot unmarshal"},
		{"unknown.json", `[{"accessKey":"A","secretKey":"12345678","role":"admin"}]`, "unknown field"},
		{"unknown.yaml", "- accessKey: A\n  secretKey: \"12345678\"\n  role: admin\n", "not found"},
		{"nokey.json", `[{"secretKey":"12345678"}]`, "no accessKey"},
		{"short.json", `[{"accessKey":"A","secretKey":"1234567"}]`, "at least 8"},
		{"nosecret.yaml", "- accessKey: A\n", "at least 8"},
		{"dup.json", `[{"accessKey":"A","secretKey":"12345678"},{"accessKey":"A","secretKey":"87654321"}]`, "appears twice"},
		{"root.json", `[{"accessKey":"ROOT","secretKey":"12345678"}]`, "root access key"},
	} {
		_, err := loadUsers(write(tt.name, tt.content), "ROOT")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
	if _, err := loadUsers(filepath.Join(dir, "missing.json"), "ROOT"); err == nil {
		t.Error("a missing file was accepted")
	}
}
