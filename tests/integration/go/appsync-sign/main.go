// Command appsync-sign signs an AppSync Events authorization object with the
// AWS SDK for Go v2's own SigV4 signer, the way an SST-style Go client builds
// one: it signs an http.Request for POST https://HOST/event whose body is the
// message's signed body, then copies the signed request's header map into the
// object and adds "host". Go keeps Host and Content-Length outside that map,
// so the object lists content-length in SignedHeaders without carrying it.
//
// Usage: appsync-sign HOST REGION BODY  (credentials from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN). Prints the object as JSON.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: appsync-sign HOST REGION BODY")
		os.Exit(2)
	}
	host, region, body := os.Args[1], os.Args[2], []byte(os.Args[3])
	req, err := http.NewRequest(http.MethodPost, "https://"+host+"/event", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	req.Header.Set("accept", "application/json, text/javascript")
	req.Header.Set("content-encoding", "amz-1.0")
	req.Header.Set("content-type", "application/json; charset=UTF-8")
	creds := aws.Credentials{
		AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
	}
	sum := sha256.Sum256(body)
	err = v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]),
		"appsync", region, time.Now())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	auth := map[string]string{"host": host}
	for name, values := range req.Header {
		auth[strings.ToLower(name)] = values[0]
	}
	out, _ := json.Marshal(auth)
	fmt.Println(string(out))
}
