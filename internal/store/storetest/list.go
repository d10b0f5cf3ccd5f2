package storetest

var listTests = []suite{}
