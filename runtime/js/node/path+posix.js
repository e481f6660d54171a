// exports: join resolve normalize relative dirname basename extname parse format isAbsolute sep delimiter toNamespacedPath
"use strict";
module.exports = require("node:path");
