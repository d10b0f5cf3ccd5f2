package rules

import (
	"errors"
	"fmt"
)

// Error codes carried by *Error. They are the S3 error codes the handler
// answers with (both are 400 Bad Request).
const (
	// CodeMalformedXML: the body is not XML, or does not fit the schema
	// (an unknown or repeated element, no content at all).
	CodeMalformedXML = "MalformedXML"
	// CodeInvalidArgument: the XML fits the schema but a value is not
	// allowed; the message names the rule and the field.
	CodeInvalidArgument = "InvalidArgument"
)

// Error is a refused website configuration. Code is CodeMalformedXML or
// CodeInvalidArgument; Message says which rule and field are wrong and what
// to change.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func malformed(format string, args ...any) *Error {
	return &Error{Code: CodeMalformedXML, Message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

// ErrKeyNotAllowedToOrigin is returned by OriginURLs for a key whose path
// (after prefix replacement) has a "." or ".." segment: an origin would
// resolve it outside MirrorURL's path, so it is never sent (424 "key not
// allowed to origin").
var ErrKeyNotAllowedToOrigin = errors.New("key not allowed to origin")
