import { ObjectId, type Collection, type Db } from 'mongodb';
import { collections } from '../db/collections.js';
import type { OrganizationInput } from './organization.schemas.js';

export interface OrganizationDoc extends OrganizationInput {
  _id: ObjectId;
  createdAt: Date;
  updatedAt: Date;
}

export class OrganizationRepository {
  private readonly col: Collection<OrganizationDoc>;
  constructor(db: Db) {
    this.col = db.collection<OrganizationDoc>(collections.organizations);
  }

  list(): Promise<OrganizationDoc[]> {
    return this.col.find().sort({ slug: 1 }).limit(1000).toArray();
  }

  bySlug(slug: string): Promise<OrganizationDoc | null> {
    return this.col.findOne({ slug });
  }

  byId(id: ObjectId): Promise<OrganizationDoc | null> {
    return this.col.findOne({ _id: id });
  }

  byIds(ids: ObjectId[]): Promise<OrganizationDoc[]> {
    return ids.length ? this.col.find({ _id: { $in: ids } }).toArray() : Promise.resolve([]);
  }

  byClaimValue(value: string): Promise<OrganizationDoc | null> {
    return this.col.findOne({ $or: [{ claimValues: value }, { slug: value.toLowerCase() }] });
  }

  byEmailDomain(domain: string): Promise<OrganizationDoc | null> {
    return this.col.findOne({ emailDomains: domain });
  }

  async insert(input: OrganizationInput): Promise<OrganizationDoc> {
    const now = new Date();
    const doc: OrganizationDoc = { _id: new ObjectId(), ...input, createdAt: now, updatedAt: now };
    await this.col.insertOne(doc);
    return doc;
  }

  update(slug: string, patch: Partial<OrganizationInput>): Promise<OrganizationDoc | null> {
    return this.col.findOneAndUpdate(
      { slug },
      { $set: { ...patch, updatedAt: new Date() } },
      { returnDocument: 'after' },
    );
  }

  async remove(id: ObjectId): Promise<boolean> {
    return (await this.col.deleteOne({ _id: id })).deletedCount === 1;
  }
}
