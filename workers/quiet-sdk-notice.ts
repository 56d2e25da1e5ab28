// Imported first by every entry point, before anything loads the AWS SDK: the
// SDK prints a four-line notice that its 2027 releases will need Node 22 (the
// locked version supports Node 20). start.sh set this for `npm start` only; a
// role started by hand (`node dist/workers/api.js`) printed it. An operator's
// own setting wins.
if (!process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED) process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
export {};
