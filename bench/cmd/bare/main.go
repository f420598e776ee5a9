// Command bare is the benchmark's ceiling: a plain Go net/http handler returning a fixed JSON
// body (the seed's 1004 answer), the least any Go HTTP service answering from memory does.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
)

var body = []byte(`{"code":1004,"success":false,"data":null,"message":"用户不存在"}`)

func main() {
	listen := flag.String("listen", "127.0.0.1:18081", "address to listen on (loopback)")
	flag.Parse()
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hd := w.Header()
		hd["Content-Type"] = []string{"application/json;charset=UTF-8"}
		hd["Cache-Control"] = []string{"no-store"}
		w.Write(body)
	})
	err := http.ListenAndServe(*listen, h)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}
