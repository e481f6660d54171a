package codemode

// Types returns the TypeScript declaration of the providers' tools, the API the model is
// shown: one input and one output type per tool, the definitions their schemas refer to,
// and one `declare const` per namespace whose methods return promises, with the tools'
// descriptions as JSDoc.
//
//	types, err := codemode.Types(codemode.Provider{Tools: tools})
//	// type SearchWebInput = { query: string; limit?: number; };
//	// declare const codemode: { searchWeb(input: SearchWebInput): Promise<SearchWebOutput>; };
//
// # Errors
//
// A namespace that is not an identifier or shadows a global, two tools with one name, a
// tool without a Func, or a schema that is not JSON.
func Types(providers ...Provider) (string, error) {
	ts, err := resolve(providers)
	if err != nil {
		return "", err
	}
	return ts.Types()
}

// PythonTypes returns the API of the providers' tools as Python, the way a model writing
// Python for Execute (Options.Language "python") is shown it: one class per namespace whose
// tools are async methods taking keyword arguments (the properties of the tool's input
// object), TypedDicts for the objects of the inputs and outputs, and the tools'
// descriptions as docstrings. It is a declaration for reading, not code to run.
//
//	types, _ := codemode.PythonTypes(codemode.Provider{Tools: tools})
//	// class codemode:
//	//     async def search_web(*, query: str, limit: int = ...) -> SearchWebOutput: ...
//
// # Errors
//
// As Types.
func PythonTypes(providers ...Provider) (string, error) {
	ts, err := resolve(providers)
	if err != nil {
		return "", err
	}
	return ts.PyTypes()
}
