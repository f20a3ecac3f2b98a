package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// authorizeJWT validates the bearer token as an HTTP API JWT authorizer
// does: signature by a key of the issuer's JWKS, iss, exp/nbf, aud or
// client_id in Audience, and the route's AuthorizationScopes.
func (a *Authorizer) authorizeJWT(c *call) (*authResult, *apiError) {
	header := "Authorization"
	if len(a.Identity) > 0 && a.Identity[0].In == "header" {
		header = a.Identity[0].Name
	}
	raw := strings.TrimSpace(c.r.Header.Get(header))
	if len(raw) > 7 && strings.EqualFold(raw[:7], "bearer ") {
		raw = strings.TrimSpace(raw[7:])
	}
	if raw == "" {
		return nil, &errUnauthorized
	}
	claims := jwt.MapClaims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}),
		jwt.WithIssuer(a.Issuer), jwt.WithExpirationRequired(), jwt.WithTimeFunc(c.g.cfg.Now),
	)
	_, err := parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		return c.g.jwks.key(a.Issuer, kid)
	})
	if err != nil || !audienceOK(claims, a.Audience) {
		return nil, &errUnauthorized
	}
	res := &authResult{kind: AuthJWT, claims: make(map[string]string, len(claims)), scopes: scopesOf(claims)}
	for k, v := range claims {
		res.claims[k] = claimString(v)
	}
	if len(c.route.Scopes) > 0 && !slices.ContainsFunc(c.route.Scopes, func(s string) bool { return slices.Contains(res.scopes, s) }) {
		return nil, &errForbidden
	}
	return res, nil
}

func audienceOK(claims jwt.MapClaims, want []string) bool {
	if len(want) == 0 {
		return true
	}
	aud, _ := claims.GetAudience()
	for _, a := range aud {
		if slices.Contains(want, a) {
			return true
		}
	}
	cid, _ := claims["client_id"].(string)
	return cid != "" && slices.Contains(want, cid)
}

// scopesOf reads "scope" (space separated) or "scp" (list or string).
func scopesOf(claims jwt.MapClaims) []string {
	switch v := claims["scope"].(type) {
	case string:
		return strings.Fields(v)
	}
	switch v := claims["scp"].(type) {
	case string:
		return strings.Fields(v)
	case []any:
		out := make([]string, 0, len(v))
		for _, s := range v {
			if s, ok := s.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// claimString renders a claim as HTTP APIs pass claims: strings as they
// are, numbers without exponent, lists as "[a b]".
func claimString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = claimString(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// jwksCache holds each issuer's signing keys, fetched through the issuer's
// OpenID discovery document. Keys are refetched after jwksTTL, or when a
// token names an unknown kid (at most once per jwksRetry). The lock is held
// during a fetch, so concurrent requests for one issuer fetch once.
type jwksCache struct {
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	issuers map[string]*issuerKeys
}

type issuerKeys struct {
	mu      sync.Mutex
	keys    map[string]any
	fetched time.Time
}

const (
	jwksTTL   = time.Hour
	jwksRetry = 10 * time.Second
)

func newJWKSCache(client *http.Client, now func() time.Time) *jwksCache {
	return &jwksCache{client: client, now: now, issuers: map[string]*issuerKeys{}}
}

func (c *jwksCache) key(issuer, kid string) (any, error) {
	c.mu.Lock()
	ik, ok := c.issuers[issuer]
	if !ok {
		ik = &issuerKeys{}
		c.issuers[issuer] = ik
	}
	c.mu.Unlock()

	ik.mu.Lock()
	defer ik.mu.Unlock()
	now := c.now()
	k, found := ik.keys[kid]
	stale := ik.keys == nil || now.Sub(ik.fetched) > jwksTTL
	if (stale || !found) && now.Sub(ik.fetched) > jwksRetry {
		keys, err := c.fetch(issuer)
		ik.fetched = now
		if err != nil {
			return nil, err
		}
		ik.keys = keys
		k, found = keys[kid]
	}
	if !found {
		if kid == "" && len(ik.keys) == 1 {
			for _, only := range ik.keys {
				return only, nil
			}
		}
		return nil, fmt.Errorf("jwt: issuer %s has no key %q", issuer, kid)
	}
	return k, nil
}

func (c *jwksCache) fetch(issuer string) (map[string]any, error) {
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := c.getJSON(strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &disc); err != nil {
		return nil, err
	}
	if disc.JWKSURI == "" {
		return nil, fmt.Errorf("jwt: issuer %s: discovery document has no jwks_uri", issuer)
	}
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			N   string `json:"n"`
			E   string `json:"e"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := c.getJSON(disc.JWKSURI, &set); err != nil {
		return nil, err
	}
	keys := map[string]any{}
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch k.Kty {
		case "RSA":
			n, err1 := base64.RawURLEncoding.DecodeString(k.N)
			e, err2 := base64.RawURLEncoding.DecodeString(k.E)
			if err1 != nil || err2 != nil {
				continue
			}
			keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		case "EC":
			var curve elliptic.Curve
			switch k.Crv {
			case "P-256":
				curve = elliptic.P256()
			case "P-384":
				curve = elliptic.P384()
			case "P-521":
				curve = elliptic.P521()
			default:
				continue
			}
			x, err1 := base64.RawURLEncoding.DecodeString(k.X)
			y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
			if err1 != nil || err2 != nil {
				continue
			}
			keys[k.Kid] = &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("jwt: issuer " + issuer + ": JWKS has no usable signing key")
	}
	return keys, nil
}

func (c *jwksCache) getJSON(url string, v any) error {
	resp, err := c.client.Get(url)
	if err != nil {
		return fmt.Errorf("jwt: fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jwt: fetch %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("jwt: decode %s: %w", url, err)
	}
	return nil
}
