package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"math/big"
)

// APIKey is the key aloft generates for an API whose routes set
// ApiKeyRequired: derived from a secret seed (the node's secret key) and the
// API's id, so it stays the same across restarts and nodes without being
// stored, and cannot be guessed without the seed. 40 characters, the shape
// of API Gateway's keys.
func APIKey(seed, apiID string) string {
	m := hmac.New(sha256.New, []byte(seed))
	m.Write([]byte("aloft api key\x00" + apiID))
	return base62(m.Sum(nil), 40)
}

// apiKeyID is the key's id in requestContext.identity.apiKeyId.
func apiKeyID(api *API) string {
	sum := sha256.Sum256([]byte("aloft api key id\x00" + api.ID))
	return base62(sum[:], 10)
}

func base62(b []byte, n int) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	v := new(big.Int).SetBytes(b)
	out := make([]byte, n)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := range out {
		v.DivMod(v, base, mod)
		out[i] = alphabet[mod.Int64()]
	}
	return string(out)
}
