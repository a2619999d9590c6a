package tokensource

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	agentauthv1 "agentauth/v1"

	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var start = time.Unix(1_800_000_000, 0)

// Compile-time proof that Source offers the standard interfaces.
var (
	_ oauth2.TokenSource            = (*Source)(nil)
	_ credentials.PerRPCCredentials = (*Source)(nil)
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeStub answers tokens "t1", "t2", ... expiring lifetime after the clock's now.
type fakeStub struct {
	clock    *fakeClock
	lifetime time.Duration
	release  chan struct{}

	mu       sync.Mutex
	requests []*agentauthv1.GetAccessTokenRequest
	err      error
}

func newFakeStub(clock *fakeClock) *fakeStub {
	release := make(chan struct{})
	close(release)
	return &fakeStub{clock: clock, lifetime: time.Hour, release: release}
}

func (f *fakeStub) GetAccessToken(ctx context.Context, in *agentauthv1.GetAccessTokenRequest,
	_ ...grpc.CallOption) (*agentauthv1.GetAccessTokenResponse, error) {
	f.mu.Lock()
	f.requests = append(f.requests, in)
	n, err := len(f.requests), f.err
	f.mu.Unlock()
	<-f.release
	if err != nil {
		return nil, err
	}
	return &agentauthv1.GetAccessTokenResponse{
		AccessToken:   fmt.Sprintf("t%d", n),
		TokenType:     "Bearer",
		Authorization: fmt.Sprintf("Bearer t%d", n),
		ExpiresAt:     timestamppb.New(f.clock.Now().Add(f.lifetime)),
	}, nil
}

func (f *fakeStub) GetStatus(context.Context, *agentauthv1.GetStatusRequest,
	...grpc.CallOption) (*agentauthv1.GetStatusResponse, error) {
	return nil, status.Error(codes.Unimplemented, "not used")
}

func setUp(options Options) (*Source, *fakeStub, *fakeClock) {
	clock := &fakeClock{now: start}
	stub := newFakeStub(clock)
	options.Client = "reports"
	options.Now = clock.Now
	return NewWithStub(stub, options), stub, clock
}

func mustToken(t *testing.T, src *Source) *oauth2.Token {
	t.Helper()
	token, err := src.Token()
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return token
}

func TestRequestCarriesTheOptions(t *testing.T) {
	src, stub, _ := setUp(Options{Scopes: []string{"api.read"}, Audience: "https://api.example.com",
		MinValidity: 5 * time.Minute})

	mustToken(t, src)

	got := stub.requests[0]
	if got.Client != "reports" || got.Scopes[0] != "api.read" ||
		got.Audience != "https://api.example.com" || got.MinValidity.AsDuration() != 5*time.Minute {
		t.Errorf("request = %v", got)
	}
}

func TestSecondUseWithinValidityMakesNoRPC(t *testing.T) {
	src, _, clock := setUp(Options{})

	first := mustToken(t, src)
	clock.Advance(time.Hour - time.Minute - time.Millisecond)
	second := mustToken(t, src)

	if first != second || src.RPCCount() != 1 {
		t.Errorf("tokens %q, %q after %d RPCs; want one token, one RPC", first.AccessToken,
			second.AccessToken, src.RPCCount())
	}
	if !first.Expiry.Equal(start.Add(time.Hour)) || first.Type() != "Bearer" {
		t.Errorf("token = %+v", first)
	}
}

func TestTokenIsFetchedAgainMinValidityBeforeExpiry(t *testing.T) {
	src, _, clock := setUp(Options{MinValidity: 2 * time.Minute})
	mustToken(t, src)

	clock.Advance(time.Hour - 2*time.Minute)
	token := mustToken(t, src)

	if token.AccessToken != "t2" || src.RPCCount() != 2 {
		t.Errorf("got %q after %d RPCs, want t2 after 2", token.AccessToken, src.RPCCount())
	}
}

func TestShortLivedTokenIsKeptForHalfItsLifetime(t *testing.T) {
	src, stub, clock := setUp(Options{})
	stub.lifetime = 100 * time.Second
	mustToken(t, src)

	clock.Advance(49 * time.Second)
	kept := mustToken(t, src)
	clock.Advance(time.Second)
	renewed := mustToken(t, src)

	if kept.AccessToken != "t1" || renewed.AccessToken != "t2" {
		t.Errorf("kept %q, renewed %q; want t1, t2", kept.AccessToken, renewed.AccessToken)
	}
}

func TestConcurrentCallersShareOneRPC(t *testing.T) {
	src, stub, _ := setUp(Options{})
	stub.release = make(chan struct{})
	tokens := make(chan string, 8)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token, err := src.Token()
			if err != nil {
				t.Error(err)
				return
			}
			tokens <- token.AccessToken
		}()
	}
	for src.Waiting() < 7 {
		runtime.Gosched()
	}

	close(stub.release)
	wg.Wait()
	close(tokens)

	if len(stub.requests) != 1 {
		t.Errorf("%d RPCs, want 1", len(stub.requests))
	}
	for token := range tokens {
		if token != "t1" {
			t.Errorf("a caller got %q, want t1", token)
		}
	}
}

func TestErrorKeepsTheCodeNamesTheClientAndIsNotKept(t *testing.T) {
	src, stub, _ := setUp(Options{})
	stub.err = status.Error(codes.NotFound, "not configured")

	_, err := src.Token()
	stub.err = nil
	recovered := mustToken(t, src)

	want := `client "reports": not configured`
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want NotFound naming the client", err)
	}
	if recovered.AccessToken != "t2" {
		t.Errorf("after the error got %q, want t2", recovered.AccessToken)
	}
}

func TestCancelledCallerLeavesTheCallToOthers(t *testing.T) {
	src, stub, _ := setUp(Options{})
	stub.release = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := src.TokenContext(ctx)
	close(stub.release)
	token := mustToken(t, src)

	if status.Code(err) != codes.Canceled || token.AccessToken != "t1" {
		t.Errorf("err = %v, token = %q; want Canceled, then t1 from the same call", err,
			token.AccessToken)
	}
}

func TestPerRPCCredentialsAddTheAuthorizationHeader(t *testing.T) {
	src, _, _ := setUp(Options{})
	insecure, _, _ := setUp(Options{InsecureTransport: true})

	metadata, err := src.GetRequestMetadata(context.Background())

	if err != nil || metadata["authorization"] != "Bearer t1" {
		t.Errorf("metadata = %v, err = %v", metadata, err)
	}
	if !src.RequireTransportSecurity() || insecure.RequireTransportSecurity() {
		t.Error("transport security is required unless InsecureTransport is set")
	}
}

// recorder is a TokenService whose GetStatus records the authorization header it received.
type recorder struct {
	agentauthv1.UnimplementedTokenServiceServer
	mu       sync.Mutex
	received []string
}

func (r *recorder) GetStatus(ctx context.Context,
	_ *agentauthv1.GetStatusRequest) (*agentauthv1.GetStatusResponse, error) {
	incoming, _ := metadata.FromIncomingContext(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.received = append(r.received, incoming.Get("authorization")...)
	return &agentauthv1.GetStatusResponse{}, nil
}

func TestPerRPCCredentialsCarryTheTokenOnRealCalls(t *testing.T) {
	src, stub, _ := setUp(Options{InsecureTransport: true})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer()
	service := &recorder{}
	agentauthv1.RegisterTokenServiceServer(server, service)
	go server.Serve(listener)
	defer server.Stop()
	conn, err := grpc.Dial(listener.Addr().String(), grpc.WithInsecure(), grpc.WithNoProxy(),
		grpc.WithPerRPCCredentials(src))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := agentauthv1.NewTokenServiceClient(conn)

	for i := 0; i < 2; i++ {
		if _, err := client.GetStatus(context.Background(),
			&agentauthv1.GetStatusRequest{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}

	if len(service.received) != 2 || service.received[0] != "Bearer t1" ||
		service.received[1] != "Bearer t1" {
		t.Errorf("the server received %q, want the token twice", service.received)
	}
	if len(stub.requests) != 1 {
		t.Errorf("%d GetAccessToken calls for two uses, want 1", len(stub.requests))
	}
}
