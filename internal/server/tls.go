package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The AWS endpoint speaks TLS when Config.TLS is set, because current AWS
// SDKs send trailing checksums and bodies of unknown length only over TLS.
// aloft keeps its own certificate authority in DATA/tls (ca.pem, ca-key.pem),
// created on first use, and issues the endpoint a fresh certificate at each
// start; clients trust ca.pem (AWS_CA_BUNDLE).

// CAPath is the PEM file of the certificate authority clients must trust
// when the endpoint serves TLS ("" otherwise).
func (s *Server) CAPath() string {
	if !s.cfg.TLS {
		return ""
	}
	return filepath.Join(s.cfg.DataDir, "tls", "ca.pem")
}

// serveTLS wraps the endpoint's listener in TLS when configured.
func (s *Server) serveTLS(l net.Listener) (net.Listener, error) {
	if !s.cfg.TLS {
		return l, nil
	}
	ca, caKey, err := s.loadCA()
	if err != nil {
		return nil, err
	}
	cert, err := issue(ca, caKey, l.Addr())
	if err != nil {
		return nil, err
	}
	return tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}

func (s *Server) loadCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	dir := filepath.Dir(s.CAPath())
	certPEM, certErr := os.ReadFile(s.CAPath())
	keyPEM, keyErr := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if errors.Is(certErr, os.ErrNotExist) && errors.Is(keyErr, os.ErrNotExist) {
		return s.createCA(dir)
	}
	if certErr != nil || keyErr != nil {
		return nil, nil, fmt.Errorf("server: TLS CA: %w", errors.Join(certErr, keyErr))
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("server: TLS CA in %s: not PEM", dir)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("server: TLS CA: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("server: TLS CA key: %w", err)
	}
	return cert, key, nil
}

func (s *Server) createCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("server: TLS CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("server: TLS CA: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "aloft local CA", Organization: []string{"aloft"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("server: TLS CA: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("server: TLS CA: %w", err)
	}
	// The key first: a CA certificate without its key would be unusable.
	if err := writeAtomic(filepath.Join(dir, "ca-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return nil, nil, err
	}
	if err := writeAtomic(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// issue makes the endpoint's certificate: loopback names and addresses,
// *.localhost for virtual-hosted buckets, and the listener's own address.
func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, addr net.Addr) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: TLS certificate: %w", err)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if ta, ok := addr.(*net.TCPAddr); ok && !ta.IP.IsUnspecified() && !ta.IP.IsLoopback() {
		ips = append(ips, ta.IP)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "aloft endpoint"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "*.localhost", "*.s3.localhost"},
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server: TLS certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func writeAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return fmt.Errorf("server: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("server: write %s: %w", path, err)
	}
	return nil
}
