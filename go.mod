module github.com/ramen-siem/ramen

go 1.26

require (
	github.com/goccy/go-yaml v1.19.2
	github.com/klauspost/compress v1.20.3
	github.com/valyala/fastjson v1.6.10
)
