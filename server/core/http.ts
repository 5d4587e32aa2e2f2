import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Express 4 does not pass a rejected promise to the error handler. Every async route goes through this
 * wrapper so a thrown DomainError (or a bug) reaches core/problem.ts instead of hanging the request.
 */
export function asyncHandler<Req extends Request = Request>(
  fn: (req: Req, res: Response, next: NextFunction) => Promise<unknown>,
): RequestHandler {
  return (req, res, next) => {
    fn(req as Req, res, next).catch(next);
  };
}
