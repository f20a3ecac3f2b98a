const shared = require("shared");

exports.handler = async (event) => shared.greet(event.who || "node");
