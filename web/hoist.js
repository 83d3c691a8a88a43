// hoist.js: the browser uploader (being built).
export {};
