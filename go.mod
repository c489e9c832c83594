module github.com/ramen-siem/ramen

go 1.26

require (
	github.com/klauspost/compress v1.20.3
	github.com/valyala/fastjson v1.6.10
)
