package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsapi"
)

// endpointRecord is what `aloft up` leaves behind for clients on the same machine
// (`aloft invoke`): where the endpoint is and which key pair signs for it.
type endpointRecord struct {
	URL         string             `json:"url"`
	Region      string             `json:"region"`
	Credentials awsapi.Credentials `json:"credentials"`
	// CA is the PEM file of the CA to trust when the endpoint serves TLS.
	CA string `json:"ca,omitempty"`
}

// endpointFile is the record's path for an endpoint URL, in the user's
// configuration directory (readable by the user only).
func endpointFile(endpointURL string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	u, err := url.Parse(endpointURL)
	if err != nil {
		return "", err
	}
	name := strings.NewReplacer(":", "_", "[", "", "]", "").Replace(u.Host)
	return filepath.Join(dir, "aloft", "endpoints", name+".json"), nil
}

func saveEndpoint(endpointURL string, creds awsapi.Credentials, region, ca string) error {
	path, err := endpointFile(endpointURL)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(endpointRecord{URL: endpointURL, Region: region, Credentials: creds, CA: ca}, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// loadEndpoint finds how to reach the endpoint at addr (host:port or URL):
// the URL (http or https) and CA from the record `aloft up` wrote, and the
// credentials from ALOFT_ACCESS_KEY/ALOFT_SECRET_KEY when set, otherwise from
// that record.
func loadEndpoint(addr string) (endpointRecord, error) {
	endpointURL := addr
	if !strings.Contains(addr, "://") {
		endpointURL = "http://" + addr
	}
	rec := endpointRecord{URL: endpointURL, Region: "us-east-1"}
	creds, err := credentialsFromEnv()
	if err != nil {
		return rec, err
	}
	if creds != nil {
		rec.Credentials = *creds
	}
	path, err := endpointFile(endpointURL)
	if err != nil {
		return rec, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && creds != nil {
		return rec, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return rec, fmt.Errorf("no aloft server has run at %s on this machine (no %s); start one with `aloft up`, or set ALOFT_ACCESS_KEY and ALOFT_SECRET_KEY", endpointURL, path)
	}
	if err != nil {
		return rec, err
	}
	var saved endpointRecord
	if err := json.Unmarshal(b, &saved); err != nil {
		return rec, fmt.Errorf("%s: %w", path, err)
	}
	rec.URL, rec.Region, rec.CA = saved.URL, saved.Region, saved.CA
	if creds == nil {
		rec.Credentials = saved.Credentials
	}
	return rec, nil
}

// httpClient is a client for the endpoint: trusting rec.CA when set.
func (rec endpointRecord) httpClient() (*http.Client, error) {
	if rec.CA == "" {
		return http.DefaultClient, nil
	}
	pem, err := os.ReadFile(rec.CA)
	if err != nil {
		return nil, fmt.Errorf("the endpoint's CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the endpoint's CA: %s holds no certificate", rec.CA)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, nil
}
