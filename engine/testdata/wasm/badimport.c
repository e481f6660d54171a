// badimport.wasm: a command that imports a host function no sandbox provides.
__attribute__((import_module("env"), import_name("steal_secrets"))) int steal_secrets(void);

int main(void) { return steal_secrets(); }
