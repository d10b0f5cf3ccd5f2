package s3api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"mirrorstore/internal/auth"
	"mirrorstore/internal/store"
)

// Error is an S3 error as it goes on the wire. Handlers return it (or any
// error; see toError) and the central writer turns it into the XML body.
type Error struct {
	Code    string
	Status  int
	Message string
	// Header carries extra response headers the error needs, such as
	// Content-Range on InvalidRange.
	Header http.Header
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// errorSpec is one row of the S3 error table.
type errorSpec struct {
	status  int
	message string
}

// errorTable holds every S3 error code this server answers with, its status
// and the default message, as Amazon S3 documents them.
var errorTable = map[string]errorSpec{
	"AccessDenied":                      {http.StatusForbidden, "Access Denied"},
	"AuthorizationHeaderMalformed":      {http.StatusBadRequest, "The authorization header is malformed."},
	"AuthorizationQueryParametersError": {http.StatusBadRequest, "Error parsing the X-Amz-Credential parameter."},
	"BadRequest":                        {http.StatusBadRequest, "Bad Request"},
	"BadDigest":                         {http.StatusBadRequest, "The Content-MD5 you specified did not match what we received."},
	"BucketAlreadyExists":               {http.StatusConflict, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."},
	"BucketAlreadyOwnedByYou":           {http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it."},
	"BucketNotEmpty":                    {http.StatusConflict, "The bucket you tried to delete is not empty."},
	"EntityTooLarge":                    {http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size."},
	"EntityTooSmall":                    {http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size."},
	"IncompleteBody":                    {http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	"InternalError":                     {http.StatusInternalServerError, "We encountered an internal error. Please try again."},
	"InvalidAccessKeyId":                {http.StatusForbidden, "The AWS Access Key Id you provided does not exist in our records."},
	"InvalidArgument":                   {http.StatusBadRequest, "Invalid Argument"},
	"InvalidBucketName":                 {http.StatusBadRequest, "The specified bucket is not valid."},
	"InvalidDigest":                     {http.StatusBadRequest, "The Content-MD5 you specified is not valid."},
	"InvalidPart":                       {http.StatusBadRequest, "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."},
	"InvalidPartOrder":                  {http.StatusBadRequest, "The list of parts was not in ascending order. The parts list must be specified in order by part number."},
	"InvalidPartNumber":                 {http.StatusRequestedRangeNotSatisfiable, "The requested partnumber is not satisfiable"},
	"InvalidRange":                      {http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable"},
	"InvalidRequest":                    {http.StatusBadRequest, "Invalid Request"},
	"InvalidStorageClass":               {http.StatusBadRequest, "The storage class you specified is not valid."},
	"InvalidTag":                        {http.StatusBadRequest, "The tag provided was not a valid tag."},
	"InvalidURI":                        {http.StatusBadRequest, "Couldn't parse the specified URI."},
	"KeyTooLongError":                   {http.StatusBadRequest, "Your key is too long."},
	"MalformedACLError":                 {http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema."},
	"MalformedXML":                      {http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema."},
	"MalformedPolicy":                   {http.StatusBadRequest, "Policies must be valid JSON and the first byte must be '{'"},
	"MetadataTooLarge":                  {http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size."},
	"MethodNotAllowed":                  {http.StatusMethodNotAllowed, "The specified method is not allowed against this resource."},
	"MirrorFailed":                      {http.StatusFailedDependency, "The object could not be fetched from its mirror origin."},
	"MissingContentLength":              {http.StatusLengthRequired, "You must provide the Content-Length HTTP header."},
	"NoSuchBucket":                      {http.StatusNotFound, "The specified bucket does not exist."},
	"NoSuchBucketPolicy":                {http.StatusNotFound, "The bucket policy does not exist."},
	"NoSuchKey":                         {http.StatusNotFound, "The specified key does not exist."},
	"NoSuchUpload":                      {http.StatusNotFound, "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed."},
	"NoSuchVersion":                     {http.StatusNotFound, "The specified version does not exist."},
	"NoSuchWebsiteConfiguration":        {http.StatusNotFound, "The specified bucket does not have a website configuration."},
	"NotImplemented":                    {http.StatusNotImplemented, "A header or query you provided implies functionality that is not implemented."},
	"PolicyTooLarge":                    {http.StatusBadRequest, "Policy exceeds the maximum allowed document size."},
	"PreconditionFailed":                {http.StatusPreconditionFailed, "At least one of the pre-conditions you specified did not hold."},
	"RequestTimeout":                    {http.StatusBadRequest, "Your socket connection to the server was not read from or written to within the timeout period."},
	"RequestTimeTooSkewed":              {http.StatusForbidden, "The difference between the request time and the server's time is too large."},
	"ServiceUnavailable":                {http.StatusServiceUnavailable, "The service is unavailable. Please retry."},
	"SignatureDoesNotMatch":             {http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	"SlowDown":                          {http.StatusServiceUnavailable, "Please reduce your request rate."},
	"XAmzContentSHA256Mismatch":         {http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed."},
}

// errCode returns the error for code with its default message. An unknown
// code is a programming error and becomes InternalError, so the table stays
// the one place that knows statuses.
func errCode(code string) *Error {
	spec, ok := errorTable[code]
	if !ok {
		spec = errorTable["InternalError"]
		code = "InternalError"
	}
	return &Error{Code: code, Status: spec.status, Message: spec.message}
}

// errorf returns the error for code with a specific message.
func errorf(code, format string, args ...any) *Error {
	e := errCode(code)
	e.Message = fmt.Sprintf(format, args...)
	return e
}

// sentinels maps store errors to S3 codes; the first match wins.
var sentinels = []struct {
	err  error
	code string
}{
	{store.ErrNoSuchBucket, "NoSuchBucket"},
	{store.ErrNoSuchKey, "NoSuchKey"},
	{store.ErrBucketAlreadyOwnedByYou, "BucketAlreadyOwnedByYou"},
	{store.ErrBucketAlreadyExists, "BucketAlreadyExists"},
	{store.ErrBucketNotEmpty, "BucketNotEmpty"},
	{store.ErrPreconditionFailed, "PreconditionFailed"},
	{store.ErrBadDigest, "BadDigest"},
	{store.ErrIncompleteBody, "IncompleteBody"},
	{store.ErrInvalidRange, "InvalidRange"},
	{store.ErrNoSuchUpload, "NoSuchUpload"},
	{store.ErrInvalidPart, "InvalidPart"},
	{store.ErrInvalidPartOrder, "InvalidPartOrder"},
	{store.ErrEntityTooSmall, "EntityTooSmall"},
	{store.ErrInvalidPartNumber, "InvalidPartNumber"},
	{store.ErrUnavailable, "ServiceUnavailable"},
}

// toError maps any error a handler returns to the S3 error to send, in one
// place: *Error as is, *auth.Error by its code (checked before the store's
// sentinels, because a verifying body reader's failure reaches us wrapped in
// the store's error), store sentinels by errors.Is, anything else as
// InternalError. internal reports whether the error was unexpected, so the
// caller logs its detail (never sent to the client).
func toError(err error) (e *Error, internal bool) {
	var se *Error
	if errors.As(err, &se) {
		return se, false
	}
	var ae *auth.Error
	if errors.As(err, &ae) {
		msg := ae.Message
		if msg == "" {
			msg = errCode(ae.Code).Message
		}
		return &Error{Code: ae.Code, Status: ae.Status, Message: msg}, false
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return errCode(s.code), false
		}
	}
	if errors.Is(err, context.Canceled) {
		// The client went away; it will not read the answer, but the log
		// should not call it a server failure.
		return &Error{Code: "RequestCanceled", Status: 499, Message: "The client closed the request."}, false
	}
	return errCode("InternalError"), true
}
