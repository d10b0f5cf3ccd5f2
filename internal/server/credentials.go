package server

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"mirrorstore/internal/auth"
)

// credentialsFile is where a generated root credential is kept, inside the
// data folder, so a restart reuses it.
const credentialsFile = "credentials.json"

func credentialsPath(dataDir string) string { return filepath.Join(dataDir, credentialsFile) }

// loadCredential returns the root credential: the one given, else the one
// kept in dataDir, else a new one written there (mode 0600). generated
// reports the last case, when the caller prints the secret once.
func loadCredential(dataDir, accessKey, secretKey string) (c auth.Credential, generated bool, err error) {
	switch {
	case accessKey != "" && secretKey != "":
		return auth.Credential{AccessKey: accessKey, SecretKey: secretKey, DisplayName: "root"}, false, nil
	case accessKey != "" || secretKey != "":
		return c, false, errors.New("set both MIRRORSTORE_ACCESS_KEY and MIRRORSTORE_SECRET_KEY, or neither")
	}
	path := credentialsPath(dataDir)
	data, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(data, &c); err != nil || c.AccessKey == "" || c.SecretKey == "" {
			return c, false, fmt.Errorf("%s does not hold a credential; remove it to generate a new one", path)
		}
		return c, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return c, false, err
	}
	c = auth.Credential{
		AccessKey:   randomString(20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
		SecretKey:   randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
		DisplayName: "root",
	}
	data, err = json.MarshalIndent(c, "", "  ")
	if err != nil {
		return c, false, err
	}
	// Written to a temporary name and renamed, so a crash never leaves a
	// half-written file that would block the next start.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return c, false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return c, false, err
	}
	return c, true, nil
}

// randomString draws n characters of alphabet from crypto/rand.
func randomString(n int, alphabet string) string {
	out := make([]byte, n)
	for i := range out {
		out[i] = alphabet[randIndex(len(alphabet))]
	}
	return string(out)
}

// randIndex returns a uniform index below n (n ≤ 256) without modulo bias.
func randIndex(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		_, _ = rand.Read(b[:])
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}
