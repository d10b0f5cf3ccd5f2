package storetest

var multipartTests = []suite{}
