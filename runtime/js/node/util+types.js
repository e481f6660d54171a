// exports: isDate isRegExp isPromise isMap isSet isNativeError isArrayBuffer isArrayBufferView isTypedArray isUint8Array isDataView isAsyncFunction isGeneratorFunction isBoxedPrimitive
"use strict";
module.exports = require("node:util").types;
