// The Go helper against a live agentauthd; prints one JSON line for polyglot_test.cc.
//
// Usage: go_probe TARGET CLIENT UNKNOWN_CLIENT UNREACHABLE_TARGET WHOAMI_URL
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"unicode"

	"agentauth/tokensource"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type failure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func dial(target string) *grpc.ClientConn {
	// Dial does not connect: an unreachable target shows on the first call.
	conn, err := grpc.Dial(target, grpc.WithInsecure(), grpc.WithNoProxy())
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_probe:", err)
		os.Exit(1)
	}
	return conn
}

func fail(target, client string) failure {
	_, err := tokensource.New(dial(target), tokensource.Options{Client: client}).Token()
	if err == nil {
		return failure{Code: "OK", Message: "a token came back"}
	}
	return failure{Code: canonicalName(status.Code(err)), Message: err.Error()}
}

// canonicalName turns codes.NotFound's "NotFound" into the "NOT_FOUND" of the other languages.
func canonicalName(code codes.Code) string {
	var name strings.Builder
	for i, r := range code.String() {
		if i > 0 && unicode.IsUpper(r) {
			name.WriteByte('_')
		}
		name.WriteRune(unicode.ToUpper(r))
	}
	return name.String()
}

func jwtExp(token string) int64 {
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err == nil {
		err = json.Unmarshal(payload, &claims)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_probe: the token is not a JWT:", err)
		os.Exit(1)
	}
	return claims.Exp
}

func main() {
	target, client, unknown, unreachable, whoami := os.Args[1], os.Args[2], os.Args[3],
		os.Args[4], os.Args[5]
	src := tokensource.New(dial(target), tokensource.Options{Client: client})
	token, err := src.Token()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_probe:", err)
		os.Exit(1)
	}
	// The second use goes through oauth2.Transport to an API that checks the token.
	api := src.HTTPClient(&http.Transport{Proxy: nil})
	answer, err := api.Get(whoami)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_probe:", err)
		os.Exit(1)
	}
	answer.Body.Close()

	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{
		"language":            "go",
		"access_token":        token.AccessToken,
		"expires_at":          token.Expiry.Unix(),
		"jwt_exp":             jwtExp(token.AccessToken),
		"rpcs_after_two_uses": src.RPCCount(),
		"api_status":          answer.StatusCode,
		"unknown_client":      fail(target, unknown),
		"unreachable":         fail(unreachable, client),
	})
}
