exports.handler = async () => process.version;
