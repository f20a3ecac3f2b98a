// HelloTs: the hello example's function in TypeScript, bundled by aloft with
// esbuild (Metadata.BuildMethod: esbuild), as `sam build` bundles it.

interface Event {
  name?: string;
}

interface Context {
  functionName: string;
  awsRequestId: string;
}

export interface Reply {
  message: string;
  function: string;
  requestId: string;
  runtime: string;
}

export const handler = async (event: Event, context: Context): Promise<Reply> => {
  const name = event?.name || "world";
  console.log(`greeting ${name}`);
  return {
    message: `${process.env.GREETING}, ${name}!`,
    function: context.functionName,
    requestId: context.awsRequestId,
    runtime: `typescript on node ${process.version}`,
  };
};
