// HelloNode: the hello example's function as a Node.js ES module, as it would
// run on AWS Lambda's nodejs20.x runtime.
export const handler = async (event, context) => {
  const name = event?.name || "world";
  console.log(`greeting ${name}`);
  return {
    message: `${process.env.GREETING}, ${name}!`,
    function: context.functionName,
    requestId: context.awsRequestId,
    runtime: `node ${process.version}`,
  };
};
