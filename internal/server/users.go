package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"mirrorstore/internal/auth"
)

// minSecretLength is the shortest secret key a users file may give.
const minSecretLength = 8

// loadUsers reads the --users file: a list of {accessKey, secretKey,
// displayName}, as JSON, or as YAML when the name ends in .yaml or .yml.
// Every entry is checked (both keys present, secrets of at least 8
// characters, no access key twice nor the root's), so a broken file is
// refused whole.
func loadUsers(path, rootAccessKey string) ([]auth.Credential, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var users []auth.Credential
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&users); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	default:
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&users); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	seen := map[string]bool{}
	for i, u := range users {
		switch {
		case u.AccessKey == "":
			return nil, fmt.Errorf("%s: entry %d has no accessKey", path, i+1)
		case len(u.SecretKey) < minSecretLength:
			return nil, fmt.Errorf("%s: entry %d (%s): secretKey must have at least %d characters", path, i+1, u.AccessKey, minSecretLength)
		case u.AccessKey == rootAccessKey:
			return nil, fmt.Errorf("%s: entry %d uses the root access key", path, i+1)
		case seen[u.AccessKey]:
			return nil, fmt.Errorf("%s: access key %s appears twice", path, u.AccessKey)
		}
		seen[u.AccessKey] = true
	}
	return users, nil
}
