// Calls an API with a token from agentauth. Run against `make demo` (README, "Calling it from
// other languages"); the build puts it in build/client/go/bin/:
//
//	fetch_token 127.0.0.1:50051 demo URL
package main

import (
	"fmt"
	"io"
	"log"
	"os"

	"agentauth/tokensource"

	"google.golang.org/grpc"
)

func main() {
	target, client, url := os.Args[1], os.Args[2], os.Args[3]
	conn, err := grpc.Dial(target, grpc.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	src := tokensource.New(conn, tokensource.Options{Client: client})
	answer, err := src.HTTPClient(nil).Get(url)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(answer.Body)
	fmt.Println(answer.Status, string(body))
}
