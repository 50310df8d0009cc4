// Package shareddata finds the public data sets that tests, evaluations and
// benchmarks read from the shared/data folder beside the repository. The
// data is never copied into the repository.
package shareddata

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the shared/data folder: SALESAGENT_SHARED_DATA when set, or
// the first ../shared/data found walking up from the working directory.
func Dir() (string, error) {
	if dir := os.Getenv("SALESAGENT_SHARED_DATA"); dir != "" {
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		candidate := filepath.Join(dir, "..", "shared", "data")
		if info, err := os.Stat(candidate); err == nil && info.IsDir() {
			return filepath.Clean(candidate), nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no shared/data folder beside %s or its parents; set SALESAGENT_SHARED_DATA", wd)
		}
	}
}

// Path returns the path of parts under shared/data. When it is missing the
// test is skipped, or failed under CI=true, where the data must be present.
func Path(t testing.TB, parts ...string) string {
	t.Helper()
	dir, err := Dir()
	if err == nil {
		path := filepath.Join(append([]string{dir}, parts...)...)
		if _, err = os.Stat(path); err == nil {
			return path
		}
	}
	msg := fmt.Sprintf("public data set %s is not available: %v", filepath.Join(parts...), err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
