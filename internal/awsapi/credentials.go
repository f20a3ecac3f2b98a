package awsapi

import (
	"crypto/rand"
	"fmt"
)

// Credentials is one access key pair that may sign requests to aloft. It is also a
// CredentialStore holding just itself.
type Credentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// SecretKey implements CredentialStore.
func (c Credentials) SecretKey(id string) (string, bool) {
	if id != c.AccessKeyID || id == "" {
		return "", false
	}
	return c.SecretAccessKey, true
}

// GenerateCredentials makes a new random key pair shaped like AWS's: a 20-character
// access key ID starting "AKIA" and a 40-character secret.
func GenerateCredentials() (Credentials, error) {
	const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	const secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	id, err := randomString(16, upper)
	if err != nil {
		return Credentials{}, err
	}
	secret, err := randomString(40, secretChars)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{AccessKeyID: "AKIA" + id, SecretAccessKey: secret}, nil
}

func randomString(n int, alphabet string) (string, error) {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("generate credentials: %w", err)
	}
	for i, b := range buf {
		buf[i] = alphabet[int(b)%len(alphabet)]
	}
	return string(buf), nil
}

var _ CredentialStore = Credentials{}
